"""The DCAT output validated against DCAT-AP 3.0.1's own SHACL shapes (core constraints and
class ranges, vendored in `shapes/` under CC BY 4.0) with pyshacl, on both stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, SH
from starlette.testclient import TestClient

from tests.opendata.conftest import publish_in_process

# rdflib 7.6's JSON-LD parser makes a ConjunctiveGraph, which rdflib itself deprecates
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

SHAPES = Path(__file__).parent / "shapes"
#: what DCAT-AP's validator imports (FOAF) and the shapes rely on: an Organization is an Agent
IMPORTS = """@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
foaf:Organization rdfs:subClassOf foaf:Agent ."""
DCT = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"


def _shapes() -> Graph:
    graph = Graph()
    for name in ("dcat-ap-3.0.1-shapes.ttl", "dcat-ap-3.0.1-range.ttl"):
        graph.parse(SHAPES / name, format="turtle")
    return graph


def violations(data: Graph) -> set[tuple[str, str, str]]:
    """(focus node, path, message) of each sh:Violation DCAT-AP's shapes find in `data`."""
    from pyshacl import validate

    ontology = Graph().parse(data=IMPORTS, format="turtle")
    _, results, _ = validate(
        data, shacl_graph=_shapes(), ont_graph=ontology, inference="rdfs", allow_warnings=True
    )
    assert isinstance(results, Graph)
    found = set()
    for result in results.subjects(RDF.type, SH.ValidationResult):
        if results.value(result, SH.resultSeverity) == SH.Violation:
            found.add(
                (
                    str(results.value(result, SH.focusNode)),
                    str(results.value(result, SH.resultPath)),
                    str(results.value(result, SH.resultMessage)),
                )
            )
    return found


def _graph(client: TestClient, path: str, fmt: str) -> Graph:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return Graph().parse(data=response.text, format=fmt)


@pytest.mark.parametrize(
    ("path", "fmt"), [("/opendata/catalog.ttl", "turtle"), ("/opendata/catalog.jsonld", "json-ld")]
)
def test_licences_media_types_and_formats_have_the_classes_dcat_ap_s_ranges_ask(
    portal_client: TestClient, path: str, fmt: str
) -> None:
    publish_in_process(portal_client)
    graph = _graph(portal_client, path, fmt)
    assert any(graph.objects(None, URIRef(DCT + "license")))
    ranged = {DCT + "license", DCAT + "mediaType", DCT + "format"}
    assert {v for v in violations(graph) if v[1] in ranged} == set()


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("/opendata/catalog.ttl", "turtle"),
        ("/opendata/catalog.jsonld", "json-ld"),
        ("/opendata/catalog.rdf", "xml"),
    ],
)
def test_the_catalogue_conforms_to_dcat_ap_3_0_1(
    portal_client: TestClient, path: str, fmt: str
) -> None:
    publish_in_process(portal_client)
    publish_in_process(portal_client, "no-organization", owner_org=None, license_id="notspecified")
    assert violations(_graph(portal_client, path, fmt)) == set()


def test_a_dataset_s_own_description_conforms_to_dcat_ap_3_0_1(portal_client: TestClient) -> None:
    package = publish_in_process(portal_client)
    assert (
        violations(_graph(portal_client, f"/opendata/dataset/{package['id']}.ttl", "turtle"))
        == set()
    )
