"""The S3 storage backend through real boto3 against moto's S3 server on 127.0.0.1."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from support_api.app import create_app
from support_api.config import Settings
from support_api.lib.auth import Role, mint_token
from support_api.services.attachments import cleanup_unclaimed
from tests import images
from tests.contract import check

@pytest.fixture
def bucket() -> str:
    # moto keeps its buckets process-wide across server instances: one name per test.
    return f"support-attachments-{secrets.token_hex(4)}"


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch, bucket: str) -> Iterator[str]:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "ap-northeast-1")):
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    yield endpoint
    server.stop()


def test_upload_view_and_cleanup_on_s3(s3_endpoint: str, bucket: str, database_url: str, tmp_path: Path) -> None:
    settings = Settings.from_env({
        "SUPPORT_API_DATABASE_URL": database_url, "SUPPORT_API_JWT_SECRET": secrets.token_urlsafe(32),
        "SUPPORT_API_ASYNC_MODE": "threading", "SUPPORT_API_VAR_DIR": str(tmp_path),
        "SUPPORT_API_STORAGE": "s3", "SUPPORT_API_S3_BUCKET": bucket, "SUPPORT_API_S3_PREFIX": "chat/",
        "SUPPORT_API_S3_ENDPOINT_URL": s3_endpoint, "SUPPORT_API_S3_REGION": "ap-northeast-1",
    })
    app = create_app(settings)
    client = app.test_client()
    token = mint_token(settings, "s3-user", Role.USER)
    headers = {"Authorization": f"Bearer {token}"}
    response = check(client.post("/v1/attachments", headers=headers, content_type="multipart/form-data",
                                 data={"file": (io.BytesIO(images.jpeg_with_gps()), "p.jpg")}))
    assert response.status_code == 201
    attachment = response.get_json()
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [f"chat/{attachment['id']}/original.jpg", f"chat/{attachment['id']}/thumbnail.jpg"]
    head = s3.head_object(Bucket=bucket, Key=keys[0])
    assert head["ContentType"] == "image/jpeg" and head["ServerSideEncryption"] == "AES256"
    served = check(client.get(f"/v1/attachments/{attachment['id']}", headers=headers))
    assert served.status_code == 200 and b"SecretPhoneMaker" not in served.data
    assert served.data == s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    with app.app_context():
        assert cleanup_unclaimed(app.extensions["support_api"], 0) == 1
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    app.extensions["support_api"].db.dispose()
