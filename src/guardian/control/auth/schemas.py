"""API schemas of the auth and users endpoints (separate from the tables)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from guardian.control.auth.issuer import TokenPair
from guardian.control.auth.passwords import MAX_LENGTH
from guardian.control.auth.principal import Role
from guardian.control.auth.users import MAX_EMAIL
from guardian.control.store.tables import User


class LoginIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "ops@example.com", "password": "correct horse battery"}]
        },
    )
    email: str = Field(min_length=3, max_length=MAX_EMAIL)
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class RefreshIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"refresh_token": "N3b0...q9A"}]}
    )
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJSUzI1NiIs...",
                    "refresh_token": "N3b0...q9A",
                    "token_type": "bearer",
                    "expires_in": 900,
                }
            ]
        }
    )
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")

    @classmethod
    def of(cls, pair: TokenPair) -> TokenOut:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            token_type=pair.token_type,
            expires_in=pair.expires_in,
        )


class Jwks(BaseModel):
    keys: list[dict[str, Any]]


class UserOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "8f1c2d4e-0000-4000-8000-000000000001",
                    "email": "ops@example.com",
                    "role": "admin",
                    "display_name": "Ops",
                    "external": False,
                    "disabled": False,
                    "created_at": "2025-01-01T08:00:00Z",
                    "disabled_at": None,
                }
            ]
        }
    )
    id: str
    email: str
    role: Role
    display_name: str | None
    external: bool = Field(description="Signs in through the external OIDC issuer.")
    disabled: bool
    created_at: dt.datetime
    disabled_at: dt.datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        role: Role = "admin" if user.role == "admin" else "viewer"
        return cls(
            id=user.id,
            email=user.email,
            role=role,
            display_name=user.display_name,
            external=user.subject is not None,
            disabled=user.disabled_at is not None,
            created_at=user.created_at,
            disabled_at=user.disabled_at,
        )


class UserList(BaseModel):
    users: list[UserOut]


class UserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"email": "clerk@example.com", "role": "viewer", "password": "long enough pass"}
            ]
        },
    )
    email: str = Field(min_length=3, max_length=MAX_EMAIL)
    role: Role
    password: str | None = Field(
        None,
        max_length=MAX_LENGTH,
        description="Omit for a user who signs in through the external issuer only.",
    )
    display_name: str | None = Field(None, max_length=128)


class UserUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"role": "viewer"}, {"disabled": True}]}
    )
    role: Role | None = None
    disabled: bool | None = None
    display_name: str | None = Field(None, max_length=128)
    password: str | None = Field(None, max_length=MAX_LENGTH)
