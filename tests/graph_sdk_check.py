"""Cross-check: Microsoft's own Graph SDK for Python (msgraph-sdk, with azure-identity for the token) talks to
the Graph emulator and parses what it answers as it would parse the real service's answers: site search,
drives, children paging with $top and @odata.nextLink, and delta through nextLink to deltaLink and again after
changes.

Needs: pip install msgraph-sdk azure-identity pytest, openssl on PATH, and the emulator binary
(GRAPH_EMULATOR_BIN, default target/debug/graph-emulator: build it with `cargo build --bin graph-emulator`).
MSAL insists on an https authority, so the emulator runs with a throwaway certificate made here.
"""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from azure.identity import ClientSecretCredential
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.drives.item.items.item.children.children_request_builder import ChildrenRequestBuilder
from msgraph.generated.sites.sites_request_builder import SitesRequestBuilder
from msgraph_core import GraphClientFactory
from kiota_abstractions.base_request_configuration import RequestConfiguration

TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT = "22222222-2222-2222-2222-222222222222"
SECRET = "sdk-check-secret"
DRIVE = "b!c2RrLWNoZWNrLWRyaXZlLWZvci10aGUtZ3JhcGgtZW11bGF0b3ItMDAwMDAwMDAwMDAwMDAwMDAw"
REPO = Path(__file__).resolve().parent.parent

SEED = {
    "tenants": [{"id": TENANT, "domains": ["contoso.onmicrosoft.com"]}],
    "apps": [{"tenant": TENANT, "client_id": CLIENT, "secrets": [SECRET],
              "roles": ["Sites.ReadWrite.All", "User.Read.All", "Group.Read.All"]}],
    "users": [{"id": "u1", "display_name": "Alice Cooper", "mail": "alice@contoso.com",
               "user_principal_name": "alice@contoso.onmicrosoft.com"}],
    "groups": [{"id": "g1", "display_name": "Marketing", "mail": "marketing@contoso.com", "mail_enabled": True}],
    "sites": [{
        "hostname": "contoso.sharepoint.com", "path": "/sites/marketing", "name": "marketing", "display_name": "Marketing",
        "drives": [{
            "id": DRIVE, "name": "Documents",
            "columns": [{"name": "Department", "kind": "text"}],
            "permissions": [{"roles": ["owner"], "site_group": "Marketing Owners"}, {"roles": ["read"], "group": "g1"},
                            {"roles": ["read"], "link": {"type": "view", "scope": "organization"}}],
            "files": [{"path": f"Reports/report-{n:02}.txt", "text": f"report {n}"} for n in range(23)]
            + [{"path": "readme.txt", "text": "hello world"},
               {"path": "plan.docx", "text": "v2", "versions": ["v1"], "author": "alice@contoso.com",
                "fields": {"Department": "Marketing"}, "checked_out_by": "alice@contoso.com"}],
        }],
    }],
}


def emulator_binary() -> Path:
    path = Path(os.environ.get("GRAPH_EMULATOR_BIN", REPO / "target" / "debug" / "graph-emulator"))
    if not path.exists():
        pytest.fail(f"graph-emulator binary not found at {path}: run `cargo build --bin graph-emulator` or set GRAPH_EMULATOR_BIN")
    return path


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("graph")
    cert, key, seed = tmp / "cert.pem", tmp / "key.pem", tmp / "seed.json"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    seed.write_text(json.dumps(SEED))
    process = subprocess.Popen(
        [str(emulator_binary()), "--listen", "127.0.0.1:0", "--seed", str(seed), "--tls-cert", str(cert), "--tls-key", str(key)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # The emulator prints its base URL once it is listening.
    base = process.stdout.readline().strip()
    if not base.startswith("https://"):
        process.kill()
        pytest.fail(f"emulator did not start: {base!r} {process.stderr.read()}")
    os.environ["REQUESTS_CA_BUNDLE"] = str(cert)
    yield base, str(cert)
    process.terminate()
    process.wait(timeout=10)


def graph_client(base: str, cert: str) -> GraphServiceClient:
    authority = base.removeprefix("https://")
    credential = ClientSecretCredential(TENANT, CLIENT, SECRET, authority=authority, disable_instance_discovery=True)
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=["https://graph.microsoft.com/.default"], allowed_hosts=["127.0.0.1"]
    )
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=cert))
    adapter = GraphRequestAdapter(auth, http)
    adapter.base_url = f"{base}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def run(coro):
    return asyncio.run(coro)


def test_sites_and_drives_parse(emulator):
    client = graph_client(*emulator)

    async def go():
        query = SitesRequestBuilder.SitesRequestBuilderGetQueryParameters(search="marketing")
        sites = await client.sites.get(request_configuration=RequestConfiguration(query_parameters=query))
        assert [s.name for s in sites.value] == ["marketing"]
        site_id = sites.value[0].id
        assert len(site_id.split(",")) == 3
        drives = await client.sites.by_site_id(site_id).drives.get()
        assert drives.value[0].id == DRIVE
        assert drives.value[0].drive_type == "documentLibrary"
        root = await client.drives.by_drive_id(DRIVE).root.get()
        assert root.root is not None and root.folder.child_count == 3
        readme = await client.drives.by_drive_id(DRIVE).items.by_drive_item_id("root:/readme.txt:").get()
        assert readme.file.hashes.quick_xor_hash == "aCgDG9jwBhDc4Q1yawMZAAAAAAA="
        assert readme.file.hashes.sha1_hash is None
        assert readme.parent_reference.drive_id == DRIVE
        assert readme.additional_data.get("@microsoft.graph.downloadUrl", "").startswith(emulator[0])

    run(go())


def test_children_page_through_next_links(emulator):
    client = graph_client(*emulator)

    async def go():
        folder = await client.drives.by_drive_id(DRIVE).items.by_drive_item_id("root:/Reports:").get()
        builder = client.drives.by_drive_id(DRIVE).items.by_drive_item_id(folder.id).children
        query = ChildrenRequestBuilder.ChildrenRequestBuilderGetQueryParameters(top=10)
        page = await builder.get(request_configuration=RequestConfiguration(query_parameters=query))
        names, pages = [], 0
        while True:
            pages += 1
            names += [item.name for item in page.value]
            if not page.odata_next_link:
                break
            page = await builder.with_url(page.odata_next_link).get()
        assert pages == 3
        assert sorted(names) == [f"report-{n:02}.txt" for n in range(23)]

    run(go())


def test_delta_pages_to_a_delta_link_and_reports_changes(emulator):
    client = graph_client(*emulator)

    async def go():
        root = await client.drives.by_drive_id(DRIVE).root.get()
        delta = client.drives.by_drive_id(DRIVE).items.by_drive_item_id(root.id).delta
        page = await delta.get()
        items = list(page.value)
        while page.odata_next_link:
            page = await delta.with_url(page.odata_next_link).get()
            items += page.value
        assert page.odata_delta_link
        files = [i for i in items if i.file is not None]
        assert len(files) == 25
        assert all(i.parent_reference.path is None for i in items)

        readme = next(i for i in files if i.name == "readme.txt")
        await client.drives.by_drive_id(DRIVE).items.by_drive_item_id(readme.id).delete()
        changes = await delta.with_url(page.odata_delta_link).get()
        gone = [i for i in changes.value if i.id == readme.id]
        assert gone and gone[-1].deleted is not None and gone[-1].deleted.state == "deleted"
        assert gone[-1].name is None
        assert changes.odata_delta_link

    run(go())


# ---- Every property the emulator emits exists in Graph's own v1.0 type definitions, with the right type ----

CSDL = REPO.parent / "shared" / "reference" / "graph-v1.0-types.csdl.xml"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def load_types():
    import xml.etree.ElementTree as ET

    root = ET.parse(CSDL).getroot()
    types = {}
    for node in root:
        if node.tag not in (EDM + "EntityType", EDM + "ComplexType"):
            continue
        props = {p.get("Name"): p.get("Type") for p in node if p.tag in (EDM + "Property", EDM + "NavigationProperty")}
        base = (node.get("BaseType") or "").split(".")[-1] or None
        types[node.get("Name")] = {"props": props, "base": base, "open": node.get("OpenType") == "true"}
    return types


def all_props(types, name):
    props, is_open = {}, False
    while name in types:
        props = {**types[name]["props"], **props}
        is_open = is_open or types[name]["open"]
        name = types[name]["base"]
    return props, is_open


def check(types, type_name, value, where, problems):
    """Known property, right type; on open types extra properties pass unless they are a misspelt twin."""
    props, is_open = all_props(types, type_name)
    for key, item in value.items():
        if key.startswith("@"):
            continue
        if key not in props:
            twin = [p for p in props if p.lower() == key.lower()]
            if twin or not is_open:
                problems.append(f"{where}.{key}: not a property of {type_name}" + (f" (did you mean {twin[0]}?)" if twin else ""))
            continue
        check_value(types, props[key], item, f"{where}.{key}", problems)


def check_value(types, edm, item, where, problems):
    if item is None:
        return
    if edm.startswith("Collection("):
        if not isinstance(item, list):
            problems.append(f"{where}: expected a collection")
            return
        for n, element in enumerate(item):
            check_value(types, edm[len("Collection("):-1], element, f"{where}[{n}]", problems)
        return
    simple = {
        "Edm.String": str, "Edm.Boolean": bool, "Edm.Int16": int, "Edm.Int32": int, "Edm.Int64": int,
        "Edm.Double": (int, float), "Edm.DateTimeOffset": str, "Edm.Guid": str, "Edm.Binary": str,
    }
    if edm in simple:
        ok = isinstance(item, simple[edm]) and not (edm != "Edm.Boolean" and isinstance(item, bool))
        if not ok:
            problems.append(f"{where}: {item!r} is not {edm}")
        elif edm == "Edm.DateTimeOffset":
            from datetime import datetime
            try:
                datetime.fromisoformat(item.replace("Z", "+00:00"))
            except ValueError:
                problems.append(f"{where}: {item!r} is not a DateTimeOffset")
        return
    name = edm.split(".")[-1]
    if edm.startswith(("graph.", "microsoft.graph.")) and name in types and edm.count(".") <= 2:
        if not isinstance(item, dict):
            problems.append(f"{where}: expected an object of {name}")
        elif name != "fieldValueSet":
            check(types, name, item, where, problems)


def test_emulator_json_matches_graph_types(emulator):
    base, cert = emulator
    types = load_types()
    with httpx.Client(verify=cert) as http:
        token = http.post(f"{base}/{TENANT}/oauth2/v2.0/token", data={
            "client_id": CLIENT, "client_secret": SECRET, "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default"}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "ConsistencyLevel": "eventual"}

        def get(path):
            response = http.get(path if path.startswith("http") else f"{base}/v1.0{path}", headers=headers)
            assert response.status_code == 200, (path, response.text)
            return response.json()

        site = get("/sites?search=marketing")["value"][0]
        plan = get(f"/drives/{DRIVE}/root:/plan.docx")
        samples = [
            ("site", site),
            ("drive", get(f"/drives/{DRIVE}")),
            ("driveItem", get(f"/drives/{DRIVE}/root")),
            ("driveItem", plan),
            ("driveItem", get(f"/drives/{DRIVE}/root:/plan.docx?$select=id,name,publication,sharepointIds")),
            ("driveItem", get(f"/drives/{DRIVE}/root:/plan.docx?$expand=listItem")),
            ("listItem", get(f"/drives/{DRIVE}/items/{plan['id']}/listItem?expand=fields")),
            ("list", get(f"/drives/{DRIVE}/list")),
            ("uploadSession", http.post(f"{base}/v1.0/drives/{DRIVE}/root:/new.bin:/createUploadSession",
                                        headers=headers, json={}).json()),
        ]
        samples += [("driveItem", v) for v in get(f"/drives/{DRIVE}/root:/Reports:/children?$top=3")["value"]]
        samples += [("driveItem", v) for v in get(f"/drives/{DRIVE}/root/delta")["value"]]
        samples += [("driveItemVersion", v) for v in get(f"/drives/{DRIVE}/items/{plan['id']}/versions")["value"]]
        samples += [("permission", v) for v in get(f"/drives/{DRIVE}/items/{plan['id']}/permissions")["value"]]
        samples += [("columnDefinition", v) for v in get(f"/sites/{site['id']}/lists/{get(f'/drives/{DRIVE}/list')['id']}/columns")["value"]]
        # Not checked: the cut's `user` and `group` come from other namespaces (security, termStore), not
        # microsoft.graph's directory types, so they cannot judge /users and /groups.
        assert get("/users")["value"] and get("/groups")["value"]
        error = http.get(f"{base}/v1.0/drives/{DRIVE}/root:/missing.txt", headers=headers).json()
    problems = []
    for type_name, value in samples:
        check(types, type_name, value, type_name, problems)
    check(types, "publicError", error["error"], "error", problems)
    assert not problems, "\n".join(problems)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
