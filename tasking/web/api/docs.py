"""The API's OpenAPI document (`/api/v1/openapi.json`) and a readable page of it (`/api/v1/docs`).

Both are public: they describe the API and hold no record data. The page is
rendered on the server from the same document (no script, nothing from a CDN).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, render_template_string
from markupsafe import Markup, escape

from tasking.web.api import bp
from tasking.web.api.spec import document, operation
from tasking.web.security import ANY_ROLE

METHODS = ("get", "post", "put", "patch", "delete")

PAGE = """{% extends "base.html" %}
{% block title %}API reference{% endblock %}
{% block content %}
<h1 class="heading-l">{{ doc.info.title }}, version {{ doc.info.version }}</h1>
<p class="body">{{ description }}</p>
<p class="body">The machine-readable document (OpenAPI {{ doc.openapi }}) is at
<a href="{{ url_for('api.openapi') }}">{{ url_for('api.openapi') }}</a>.</p>
<h2 class="heading-m">Operations</h2>
<ul class="list">
{% for op in operations %}
<li><a href="#{{ op.id }}">{{ op.method|upper }} {{ op.path }}</a>: {{ op.summary }}</li>
{% endfor %}
</ul>
{% for op in operations %}
<section id="{{ op.id }}">
<h3 class="heading-s">{{ op.method|upper }} {{ op.path }}</h3>
<p class="body">{{ op.summary }}</p>
{% for para in op.paragraphs %}<p class="body">{{ para }}</p>{% endfor %}
{% if op.parameters %}
<table class="table">
<caption>Parameters</caption>
<thead><tr>
<th scope="col">Name</th><th scope="col">In</th><th scope="col">Required</th>
<th scope="col">Type</th>
</tr></thead>
<tbody>
{% for p in op.parameters %}
<tr><td><code>{{ p.name }}</code></td><td>{{ p["in"] }}</td>
<td>{{ "yes" if p.required else "no" }}</td><td>{{ p.type }}</td></tr>
{% endfor %}
</tbody>
</table>
{% endif %}
{% if op.body %}
<p class="body">Body: JSON, schema <a href="#schema-{{ op.body }}">{{ op.body }}</a>.</p>
{% endif %}
<p class="body">Answers:
{% for code, name in op.responses %}
<code>{{ code }}</code>{% if name %} (<a href="#schema-{{ name }}">{{ name }}</a>){% endif %}
{%- if not loop.last %}, {% endif %}
{% endfor %}
</p>
</section>
{% endfor %}
<h2 class="heading-m">Schemas</h2>
{% for name, schema in schemas %}
<section id="schema-{{ name }}">
<h3 class="heading-s">{{ name }}</h3>
{% if schema.description %}<p class="body">{{ schema.description }}</p>{% endif %}
{% if schema.properties %}
<table class="table">
<thead><tr>
<th scope="col">Field</th><th scope="col">Type</th><th scope="col">Required</th>
</tr></thead>
<tbody>
{% for field, info in schema.properties.items() %}
<tr><td><code>{{ field }}</code></td><td>{{ info.type }}</td>
<td>{{ "yes" if field in schema.required else "no" }}</td></tr>
{% endfor %}
</tbody>
</table>
{% endif %}
</section>
{% endfor %}
{% endblock %}
"""


def _ref_name(schema: dict[str, Any] | None) -> str | None:
    ref = (schema or {}).get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else None


def with_code(text: str) -> Markup:
    """Text whose `backticked` parts read as code (everything escaped)."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: plain text
        return escape(text)
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if i % 2 else escape(part)
        for i, part in enumerate(parts)
    )


def type_text(schema: dict[str, Any], components: dict[str, Any]) -> str:
    """A short description of a JSON schema's type, e.g. 'integer 1..5' or 'list of string'."""
    if "$ref" in schema:
        name = str(_ref_name(schema))
        target = components.get(name, {})
        return type_text(target, components) if "enum" in target else name
    if "anyOf" in schema:
        return " or ".join(type_text(option, components) for option in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return "list of " + type_text(schema.get("items", {}), components)
    bounds = [schema.get(k) for k in ("minimum", "maximum")]
    if any(b is not None for b in bounds):
        lo, hi = ("" if b is None else str(b) for b in bounds)
        kind += f" {lo}..{hi}"
    if "maxLength" in schema:
        kind += f" (up to {schema['maxLength']} characters)"
    return kind


def operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's operations, flattened for the page."""
    components = doc.get("components", {}).get("schemas", {})
    found = []
    for path, item in sorted(doc["paths"].items()):
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            found.append(
                {
                    "id": op["operationId"],
                    "method": method,
                    "path": path,
                    "summary": with_code(op.get("summary", "")),
                    "paragraphs": [
                        with_code(p) for p in op.get("description", "").split("\n\n") if p
                    ],
                    "parameters": [
                        {**p, "type": type_text(p.get("schema", {}), components)}
                        for p in op.get("parameters", [])
                    ],
                    "body": _ref_name(body.get("schema")),
                    "responses": [
                        (
                            code,
                            _ref_name(
                                answer.get("content", {}).get("application/json", {}).get("schema")
                            ),
                        )
                        for code, answer in sorted(op.get("responses", {}).items())
                    ],
                }
            )
    return found


def schemas(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The document's component schemas, with each property's type as text."""
    components = doc.get("components", {}).get("schemas", {})
    listed = []
    for name, schema in sorted(components.items()):
        properties = {
            field: {"type": type_text(info, components)}
            for field, info in schema.get("properties", {}).items()
        }
        listed.append(
            (
                name,
                {
                    "description": with_code(schema.get("description", "")),
                    "properties": properties,
                    "required": schema.get("required", []),
                },
            )
        )
    return listed


@bp.get("/openapi.json")
@operation(ANY_ROLE, tag="documentation", public=True)
def openapi() -> Response:
    """This API's OpenAPI 3.1 document, generated from the models the code validates with."""
    return jsonify(document())


@bp.get("/docs")
@operation(ANY_ROLE, tag="documentation", public=True)
def docs() -> str:
    """A readable page of this API's operations and schemas, made from the OpenAPI document."""
    doc = document()
    return render_template_string(
        PAGE,
        doc=doc,
        description=with_code(doc["info"].get("description", "")),
        operations=operations(doc),
        schemas=schemas(doc),
    )
