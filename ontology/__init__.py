"""The knowledge-graph view of the store: OWL ontology, SHACL shapes, RDF graph, Neo4j sync."""
