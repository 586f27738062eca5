"""The ``croissant.json`` of an export: an MLCommons Croissant 1.0 dataset description.

Each split file is a ``cr:FileObject`` (JSON Lines, with its SHA-256) and a record set whose
fields are the documents' top-level keys; ``splits.csv`` is described the same way, so a
Croissant reader can load the split assignment without knowing atlas2d.
"""

from __future__ import annotations

from datetime import date
from typing import Any

CROISSANT_CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
"""The standard Croissant 1.0 ``@context``."""

DOCUMENT_FIELDS = (
    ("material_id", "sc:Integer", "The material's id in the atlas2d store (the duplicate cluster)."),
    ("chemical_formula_reduced", "sc:Text", "OPTIMADE reduced chemical formula."),
    ("split", "sc:Text", "train, validation or test."),
    ("n_entries", "sc:Integer", "How many source records describe this material."),
)


def croissant_metadata(
    split_files: dict[str, tuple[str, str, int]],
    splits_csv: tuple[str, str],
    licenses: list[str],
    citation: str,
    description: str,
) -> dict[str, Any]:
    """The Croissant document; ``split_files`` maps split -> (file name, sha256, materials)."""
    distribution: list[dict[str, Any]] = [
        _file(name, sha, "application/jsonlines", f"The {split} split: one JSON-LD document per material ({n}).")
        for split, (name, sha, n) in split_files.items()
    ]
    distribution.append(_file(splits_csv[0], splits_csv[1], "text/csv", "Split assignment: material_id,split,n_entries."))
    record_sets = [
        {
            "@type": "cr:RecordSet",
            "@id": split,
            "name": split,
            "description": f"Materials of the {split} split.",
            "field": [
                {
                    "@type": "cr:Field",
                    "@id": f"{split}/{key}",
                    "name": key,
                    "description": text,
                    "dataType": data_type,
                    "source": {"fileObject": {"@id": name}, "extract": {"column": key}},
                }
                for key, data_type, text in DOCUMENT_FIELDS
            ],
        }
        for split, (name, _, _) in split_files.items()
    ]
    record_sets.append(
        {
            "@type": "cr:RecordSet",
            "@id": "splits",
            "name": "splits",
            "description": "Which split each material (duplicate cluster) is in.",
            "field": [
                {
                    "@type": "cr:Field",
                    "@id": f"splits/{key}",
                    "name": key,
                    "description": text,
                    "dataType": data_type,
                    "source": {"fileObject": {"@id": splits_csv[0]}, "extract": {"column": key}},
                }
                for key, data_type, text in DOCUMENT_FIELDS
                if key != "chemical_formula_reduced"
            ],
        }
    )
    return {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "name": "atlas2d-training-set",
        "description": description,
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "url": "https://atlas2d.org",
        "license": licenses,
        "citeAs": citation,
        "datePublished": date.today().isoformat(),
        "version": "1.0.0",
        "distribution": distribution,
        "recordSet": record_sets,
    }


def _file(name: str, sha256: str, encoding: str, description: str) -> dict[str, Any]:
    return {
        "@type": "cr:FileObject",
        "@id": name,
        "name": name,
        "description": description,
        "contentUrl": name,
        "encodingFormat": encoding,
        "sha256": sha256,
    }
