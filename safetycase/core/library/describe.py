"""Templates and the catalogue as plain dictionaries: what the API returns and what the Markdown
pages are generated from. Pure."""

from __future__ import annotations

import copy
from typing import Any

from safetycase.core.library.types import CatalogueAssumption, Library, SourceRef


def template_summary(library: Library, template_id: str) -> dict[str, Any]:
    template = library.template(template_id)
    params = library.parameters(template_id)
    return {
        "id": template.id,
        "title": template.title,
        "version": template.version,
        "summary": template.summary,
        "includes": [i.template for i in template.includes],
        "required_parameters": [p.name for p in params if p.required],
        "node_count": len(template.nodes),
    }


def template_detail(library: Library, template_id: str) -> dict[str, Any]:
    template = library.template(template_id)
    nodes = []
    for node in template.nodes.values():
        part = template.parts.get(node.part) if node.part else None
        identifier = template.identifier(node.id)
        if part is not None and part.repeats:
            identifier += ".<k>"
        nodes.append(
            {
                "id": node.id,
                "identifier": identifier,
                "type": node.type,
                "text": node.text,
                "part": node.part,
                "supported_by": list(node.supported_by),
                "in_context_of": list(node.in_context_of),
                "combination": node.combination,
                "undeveloped": node.undeveloped,
                "requires_attestation": node.requires_attestation,
                "refutes": (
                    template.identifier(node.attributes["refutes"])
                    if node.type == "solution" and node.attributes.get("refutes")
                    else None
                ),
                "bindings": [b.as_dict() for b in node.bindings],
            }
        )
    return {
        **template_summary(library, template_id),
        "prefix": template.prefix,
        "guidance": template.guidance,
        "file": template.filename,
        "top": template.root,
        "sources": [_source(library, ref) for ref in template.sources],
        "parameters": [p.as_dict() for p in library.parameters(template_id)],
        "parts": [
            {
                "id": part.id,
                "for_each": part.for_each,
                "item_name": part.alias,
                "when": part.when,
                "description": part.description,
            }
            for part in template.parts.values()
        ],
        "nodes": nodes,
        "includes": [
            {
                "template": i.template,
                "under": i.under,
                "when": i.when,
                "parameters": dict(i.parameters),
            }
            for i in template.includes
        ],
        "assumptions": [
            assumption_detail(library, a) for a in library.assumptions_used(template_id)
        ],
        "root_rules": copy.deepcopy(template.root_rules),
        "example": copy.deepcopy(template.example),
    }


def assumption_detail(library: Library, assumption: CatalogueAssumption) -> dict[str, Any]:
    return {
        "id": assumption.id,
        "statement": assumption.statement,
        "used_by": list(assumption.used_by),
        "requires_attestation": assumption.requires_attestation,
        "attestation": assumption.attestation,
        "fails_when": assumption.fails_when,
        "checks": [c.as_dict() for c in assumption.checks],
        "sources": [_source(library, ref) for ref in assumption.sources],
    }


def _source(library: Library, ref: SourceRef) -> dict[str, Any]:
    source = library.sources[ref.key]
    return {
        "key": source.key,
        "title": source.title,
        "authors": source.authors,
        "year": source.year,
        "url": source.url,
        "where": ref.where,
    }
