import boto3
import pytest
import requests

from glimpse_assets_tests.support.http_doubles import LocalHTTPServer, Reply


def test_local_http_server_records_requests():
    with LocalHTTPServer(lambda request: Reply.json({"ok": request.query.get("q")})) as server:
        answer = requests.get(f"{server.url}/x", params={"q": "1"}, timeout=5).json()
    assert answer == {"ok": "1"}
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/x")]


@pytest.mark.slow
def test_s3_bucket_is_on_the_local_server(s3_client, s3_bucket, s3_endpoint):
    s3_client.put_object(Bucket=s3_bucket, Key="k", Body=b"v")
    # A default client picks the endpoint up from AWS_ENDPOINT_URL, as the IO manager's does.
    assert boto3.client("s3").get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"v"
    assert s3_endpoint.startswith("http://127.0.0.1:")
