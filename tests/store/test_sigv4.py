"""SigV4 signer: AWS's published S3 example signatures (Signature Version 4, header-based auth)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from jiradrift.model.store_errors import StoreError
from jiradrift.store.sigv4 import EMPTY_SHA256, Credentials, sign

# The example key pair and moment of AWS's S3 documentation.
EXAMPLE = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
WHEN = datetime(2013, 5, 24, tzinfo=UTC)
HOST = "https://examplebucket.s3.amazonaws.com"


def _signature(headers: dict[str, str]) -> str:
    return headers["Authorization"].rsplit("Signature=", 1)[1]


def test_get_object_with_a_range() -> None:
    headers = sign("GET", f"{HOST}/test.txt", {"Range": "bytes=0-9"}, EMPTY_SHA256, EXAMPLE, "us-east-1", WHEN)
    assert _signature(headers) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
    )
    assert headers["x-amz-date"] == "20130524T000000Z"


def test_put_object_signs_the_payload_hash_and_an_encoded_key() -> None:
    body = b"Welcome to Amazon S3."
    extra = {"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"}
    headers = sign(
        "PUT", f"{HOST}/test%24file.text", extra, hashlib.sha256(body).hexdigest(), EXAMPLE, "us-east-1", WHEN
    )
    assert _signature(headers) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"


def test_query_parameters_are_sorted_and_encoded() -> None:
    listing = sign(
        "GET", f"{HOST}/", {}, EMPTY_SHA256, EXAMPLE, "us-east-1", WHEN, query={"prefix": "J", "max-keys": "2"}
    )
    assert _signature(listing) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    lifecycle = sign("GET", f"{HOST}/", {}, EMPTY_SHA256, EXAMPLE, "us-east-1", WHEN, query={"lifecycle": ""})
    assert _signature(lifecycle) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"


def test_a_session_token_is_sent_and_signed() -> None:
    temporary = Credentials(EXAMPLE.access_key_id, EXAMPLE.secret_access_key, "token-1")
    headers = sign("GET", f"{HOST}/test.txt", {}, EMPTY_SHA256, temporary, "us-east-1", WHEN)
    assert headers["x-amz-security-token"] == "token-1"
    assert "x-amz-security-token" in headers["Authorization"].split("SignedHeaders=")[1]
    assert _signature(headers) != _signature(
        sign("GET", f"{HOST}/test.txt", {}, EMPTY_SHA256, EXAMPLE, "us-east-1", WHEN)
    )


def test_credentials_come_from_the_standard_variables_and_never_print_the_secret() -> None:
    creds = Credentials.from_env({"AWS_ACCESS_KEY_ID": "AKIDX", "AWS_SECRET_ACCESS_KEY": "s3cr3t"})
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == ("AKIDX", "s3cr3t", None)
    assert "s3cr3t" not in repr(creds)


def test_missing_credentials_name_the_variables_and_the_chart_setting() -> None:
    with pytest.raises(StoreError, match=r"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.*credentialsSecret"):
        Credentials.from_env({})
