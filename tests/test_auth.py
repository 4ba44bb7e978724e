"""Bearer tokens: what is accepted, what is refused, and the role gate."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from support_api import cli
from support_api.config import Settings
from support_api.lib.auth import Role, TokenVerifier, mint_token
from support_api.lib.errors import Unauthorized
from tests.conftest import Api


def _claims(**extra: object) -> dict[str, object]:
    return {"sub": "user-9", "role": "user", "exp": int(time.time()) + 600, **extra}


def test_missing_and_malformed_headers(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic dXNlcjpwYXNz"},
                    {"Authorization": "Bearer not.a.jwt"}):
        response = api.get("/sessions", headers=headers)
        assert response.status_code == 401, headers
        assert response.get_json()["error"]["code"] == "unauthorized"


def test_forged_expired_and_malformed_tokens(api: Api, settings: Settings) -> None:
    secret = settings.resolved_jwt_secret()
    cases = {
        "forged": jwt.encode(_claims(), "another-secret-of-sufficient-length-123", algorithm="HS256"),
        "expired": jwt.encode(_claims(exp=int(time.time()) - 120), secret, algorithm="HS256"),
        "no_exp": jwt.encode({"sub": "u", "role": "user"}, secret, algorithm="HS256"),
        "no_sub": jwt.encode({"role": "user", "exp": int(time.time()) + 60}, secret, algorithm="HS256"),
        "bad_role": jwt.encode(_claims(role="root"), secret, algorithm="HS256"),
        "alg_none": jwt.encode(_claims(), None, algorithm="none"),
    }
    for name, token in cases.items():
        response = api.get("/sessions", token)
        assert response.status_code == 401, name
    expired = api.get("/sessions", cases["expired"]).get_json()["error"]
    assert expired["details"]["reason"] == "expired"


def test_departments_claim_forms(settings: Settings) -> None:
    verifier = TokenVerifier(settings)
    secret = settings.resolved_jwt_secret()
    listed = verifier.verify(jwt.encode(_claims(role="operator", departments=["funds"]), secret, algorithm="HS256"))
    comma = verifier.verify(jwt.encode(_claims(role="operator", departments="funds,security"), secret, algorithm="HS256"))
    assert listed.departments == ("funds",) and comma.departments == ("funds", "security")
    with pytest.raises(Unauthorized):
        verifier.verify(jwt.encode(_claims(departments=[1, 2]), secret, algorithm="HS256"))


def test_identity_provider_keys_issuer_and_audience(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    settings = Settings.from_env({"SUPPORT_API_VAR_DIR": str(tmp_path), "SUPPORT_API_JWT_PUBLIC_KEY": public_pem,
                                  "SUPPORT_API_JWT_ISSUER": "https://id.example", "SUPPORT_API_JWT_AUDIENCE": "support"})
    verifier = TokenVerifier(settings)
    good = jwt.encode(_claims(iss="https://id.example", aud="support"), key, algorithm="ES256")
    assert verifier.verify(good).id == "user-9"
    for bad in (jwt.encode(_claims(iss="https://evil.example", aud="support"), key, algorithm="ES256"),
                jwt.encode(_claims(iss="https://id.example", aud="other"), key, algorithm="ES256"),
                # With an identity provider configured, a locally minted HS256 token is not accepted.
                mint_token(settings, "user-9", Role.USER)):
        with pytest.raises(Unauthorized):
            verifier.verify(bad)


def test_token_command_prints_a_verifiable_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SUPPORT_API_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("SUPPORT_API_JWT_SECRET", raising=False)
    assert cli.main(["token", "op-7", "--role", "operator", "--name", "Kato", "--departments", "funds,security",
                     "--ttl", "120"]) == 0
    token = capsys.readouterr().out.strip()
    principal = TokenVerifier(Settings.from_env({"SUPPORT_API_VAR_DIR": str(tmp_path)})).verify(token)
    assert (principal.id, principal.role, principal.name, principal.departments) == (
        "op-7", Role.OPERATOR, "Kato", ("funds", "security"))
    assert 100 < principal.expires_at - time.time() <= 120
    # The generated secret is kept under var/ and reused, so the token outlives a restart.
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o777 == 0o600
