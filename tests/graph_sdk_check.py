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
    "apps": [{"tenant": TENANT, "client_id": CLIENT, "secrets": [SECRET], "roles": ["Sites.ReadWrite.All"]}],
    "sites": [{
        "hostname": "contoso.sharepoint.com", "path": "/sites/marketing", "name": "marketing", "display_name": "Marketing",
        "drives": [{
            "id": DRIVE, "name": "Documents",
            "files": [{"path": f"Reports/report-{n:02}.txt", "text": f"report {n}"} for n in range(23)]
            + [{"path": "readme.txt", "text": "hello world"}],
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
        assert root.root is not None and root.folder.child_count == 2
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
        assert len(files) == 24
        assert all(i.parent_reference.path is None for i in items)

        readme = next(i for i in files if i.name == "readme.txt")
        await client.drives.by_drive_id(DRIVE).items.by_drive_item_id(readme.id).delete()
        changes = await delta.with_url(page.odata_delta_link).get()
        gone = [i for i in changes.value if i.id == readme.id]
        assert gone and gone[-1].deleted is not None and gone[-1].deleted.state == "deleted"
        assert gone[-1].name is None
        assert changes.odata_delta_link

    run(go())


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
