from __future__ import annotations

from typing import Any

import httpx

from tests.support.tenants import TenantKeys

PASSWORD = "invited person password"


async def _invite_and_join(
    http: httpx.AsyncClient, owner: TenantKeys, email: str, role: str = "member"
) -> dict[str, Any]:
    invited = await http.post(
        "/v1/invitations", headers=owner.user_headers, json={"email": email, "role": role}
    )
    assert invited.status_code == 201, invited.text
    token = invited.json()["token"]
    joined = await http.post("/v1/invitations/accept", json={"token": token, "password": PASSWORD})
    assert joined.status_code == 200, joined.text
    body: dict[str, Any] = joined.json()
    body["invitation_token"] = token
    return body


def _bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}"}


async def test_invited_member_joins_with_member_rights(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    member = await _invite_and_join(http, tenant, "New.Person@shop.example")
    assert member["tenant"]["id"] == str(tenant.tenant_id)
    assert member["user"]["email"] == "new.person@shop.example"
    assert member["user"]["role"] == "member"
    h = _bearer(member)
    assert (await http.get("/v1/bots", headers=h)).status_code == 200
    assert (await http.post("/v1/bots", headers=h, json={"name": "x"})).status_code == 403
    invite = await http.post("/v1/invitations", headers=h, json={"email": "x@shop.example"})
    assert invite.status_code == 403
    listed = (await http.get("/v1/members", headers=tenant.user_headers)).json()["items"]
    assert sorted(m["role"] for m in listed) == ["member", "owner"]
    # The invitation works once.
    again = await http.post(
        "/v1/invitations/accept", json={"token": member["invitation_token"], "password": PASSWORD}
    )
    assert again.status_code == 401


async def test_withdrawn_invitation_cannot_be_accepted(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    invited = (
        await http.post(
            "/v1/invitations", headers=tenant.user_headers, json={"email": "late@shop.example"}
        )
    ).json()
    pending = (await http.get("/v1/invitations", headers=tenant.user_headers)).json()["items"]
    assert [i["id"] for i in pending] == [invited["id"]]
    assert pending[0]["token"] is None, "the token is shown only once"
    withdrawn = await http.delete(f"/v1/invitations/{invited['id']}", headers=tenant.user_headers)
    assert withdrawn.status_code == 204
    accept = await http.post(
        "/v1/invitations/accept", json={"token": invited["token"], "password": PASSWORD}
    )
    assert accept.status_code == 401


async def test_existing_member_cannot_be_invited_twice_into_a_second_account(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    invited = (
        await http.post(
            "/v1/invitations", headers=tenant.user_headers, json={"email": tenant.email}
        )
    ).json()
    accept = await http.post(
        "/v1/invitations/accept", json={"token": invited["token"], "password": PASSWORD}
    )
    assert accept.status_code == 409


async def test_roles_and_the_last_owner(http: httpx.AsyncClient, tenant: TenantKeys) -> None:
    admin = await _invite_and_join(http, tenant, "admin@shop.example", role="admin")
    member = await _invite_and_join(http, tenant, "member@shop.example")
    owner_h, admin_h = tenant.user_headers, _bearer(admin)

    # The only owner cannot step down.
    demote_self = await http.patch(
        f"/v1/members/{tenant.user_id}", headers=owner_h, json={"role": "admin"}
    )
    assert demote_self.status_code == 409
    # Admins manage members but not owners.
    promote = await http.patch(
        f"/v1/members/{member['user']['id']}", headers=admin_h, json={"role": "admin"}
    )
    assert promote.status_code == 200
    assert promote.json()["role"] == "admin"
    touch_owner = await http.patch(
        f"/v1/members/{tenant.user_id}", headers=admin_h, json={"role": "member"}
    )
    assert touch_owner.status_code == 403
    make_owner = await http.patch(
        f"/v1/members/{admin['user']['id']}", headers=admin_h, json={"role": "owner"}
    )
    assert make_owner.status_code == 403
    # An owner can hand over, and then step down.
    handover = await http.patch(
        f"/v1/members/{admin['user']['id']}", headers=owner_h, json={"role": "owner"}
    )
    assert handover.status_code == 200
    step_down = await http.patch(
        f"/v1/members/{tenant.user_id}", headers=owner_h, json={"role": "admin"}
    )
    assert step_down.status_code == 200
    # The role is read on every request: the old owner lost owner-only rights at once.
    me = (await http.get("/v1/me", headers=owner_h)).json()
    assert me["role"] == "admin"


async def test_removed_member_is_logged_out(http: httpx.AsyncClient, tenant: TenantKeys) -> None:
    member = await _invite_and_join(http, tenant, "leaver@shop.example")
    assert (await http.get("/v1/me", headers=_bearer(member))).status_code == 200
    removed = await http.delete(f"/v1/members/{member['user']['id']}", headers=tenant.user_headers)
    assert removed.status_code == 204
    assert (await http.get("/v1/me", headers=_bearer(member))).status_code == 401
    login = await http.post(
        "/v1/auth/login", json={"email": "leaver@shop.example", "password": PASSWORD}
    )
    assert login.status_code == 401
