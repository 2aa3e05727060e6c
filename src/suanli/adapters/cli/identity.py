"""`suanli login`, `whoami`, `token ...`, `org ...`, `project ...`, `member ...`: who you are, your
API tokens, and the organizations, projects and members of the network."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from suanli.adapters.cli.output import (
    EXIT_BAD_INPUT,
    OutputOption,
    error,
    fields_table,
    note,
    out,
    print_json,
    print_list,
    show_list,
    state,
    when,
)
from suanli.client import ApiTokenOut, MemberOut, OrganizationOut, SuanliClient, WhoamiOut, home_token_file
from suanli.domain.durations import parse_duration
from suanli.domain.identity import OrganizationKind, Role, Scope

token_app = typer.Typer(
    name="token",
    help="Your API tokens: create, list, revoke.\n\nExample: suanli token list",
    no_args_is_help=True,
)
org_app = typer.Typer(
    name="org",
    help="Organizations (机构): who uses or supplies compute.\n\nExample: suanli org list",
    no_args_is_help=True,
)
project_app = typer.Typer(
    name="project",
    help="Projects: where an organization's jobs, quotas and budgets attach.\n\n"
    "Example: suanli project list --org qd-university",
    no_args_is_help=True,
)
member_app = typer.Typer(
    name="member",
    help="Members: users and service accounts, and their roles in organizations.\n\n"
    "Example: suanli member add ci-bot --service --org qd-university --role member",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("whoami")(whoami)
    app.add_typer(token_app, name="token")
    app.add_typer(org_app, name="org")
    app.add_typer(project_app, name="project")
    app.add_typer(member_app, name="member")


def admin_token_note(home: Path) -> str:
    """The line ``suanli server`` and ``suanli up`` print after creating the first admin: where its
    token is, and how the CLI finds it (begins with a line break: it follows the banner)."""
    token_file = home / "token"
    line = f"\nThe admin's API token is in {token_file} (readable by you only); "
    if token_file.resolve() == home_token_file().resolve():
        return line + "the CLI on this machine uses it: try `suanli whoami`"
    return line + f"the CLI uses it with SUANLI_HOME={home}: try `SUANLI_HOME={home} suanli whoami`"


# -- login and whoami -----------------------------------------------------------------------------


def login(
    ctx: typer.Context,
    token: Annotated[
        str | None,
        typer.Option("--token", help="the API token (sk_...) [default: asked for, without echo]"),
    ] = None,
    password: Annotated[
        bool,
        typer.Option("--password", help="sign in with your name and password (asked for; SUANLI_PASSWORD for scripts)"),
    ] = False,
    user: Annotated[str | None, typer.Option("--user", help="your name, with --password [default: asked for]")] = None,
    org: Annotated[
        str | None,
        typer.Option("--org", help="with --password: act for this organization, one where you hold a role"),
    ] = None,
    oidc: Annotated[
        bool,
        typer.Option("--oidc", help="sign in with single sign-on (OpenID Connect): open the URL shown, check the code"),
    ] = False,
    output: OutputOption = None,
) -> None:
    """Check an API token with the server, or sign in with a password for a new one (valid 30
    days), and keep it in $SUANLI_HOME/token (mode 0600), where every later command finds it. A
    different token kept there before is moved to token.previous.

    Examples: suanli login --token sk_...

    suanli login --password --user alice   (--org NAME: act for another of your organizations)

    suanli login --oidc
    """
    current = state(ctx, output)
    if oidc:  # the server's OpenID provider, device flow (oidc_login.py): a new token, checked below
        from suanli.adapters.cli.oidc_login import device_login

        token, password = device_login(current.server), False
    if password:
        name = user or typer.prompt("name", err=True)
        secret = os.environ.get("SUANLI_PASSWORD") or typer.prompt("password", hide_input=True, err=True)
        with SuanliClient(current.server) as client:
            client.login_with_password(name.strip(), secret, organization=org)
            who = client.whoami()
            checked = client.token or ""
    else:
        given = token or current.token or typer.prompt("API token (sk_...)", hide_input=True, err=True)
        with SuanliClient(current.server, given.strip()) as client:
            who = client.whoami()
            checked = client.token or ""
    path = home_token_file()
    _keep(path, checked)
    if current.json:
        print_json({"token_file": str(path), "whoami": who})
    else:
        out.print(f"logged in to {escape(client.server)} as {_who(who)}; the token is kept in {escape(str(path))}")


def _keep(path: Path, token: str) -> None:
    from suanli.services.identity import write_private

    if path.exists():
        try:
            previous = path.read_text().strip()
        except OSError:
            previous = ""
        if previous and previous != token:
            write_private(path.with_name("token.previous"), previous + "\n")
            note(f"the token kept there before is now in {path.with_name('token.previous')}")
    write_private(path, token + "\n")


def _who(who: WhoamiOut) -> str:
    roles = ", ".join(who.roles) or "no role"
    return f"{escape(who.name)} ({who.kind}) of {escape(who.organization)}, {escape(roles)}"


def whoami(ctx: typer.Context, output: OutputOption = None) -> None:
    """Show who your token acts as: name, organization, roles, the token's scopes, and what they allow.

    Example: suanli whoami
    """
    current = state(ctx, output)
    who = current.client().whoami()
    if current.json:
        print_json(who)
        return
    expires = when(who.token_expires_at) if who.token_expires_at else "never"
    out.print(
        fields_table(
            [
                ("name", escape(who.name)),
                ("kind", who.kind),
                ("organization", escape(who.organization)),
                ("roles", ", ".join(who.roles) or "none"),
                ("token", f"{who.token_prefix} ({escape(who.token_name)}), scopes {', '.join(who.scopes)}"),
                ("expires", expires),
                ("may", ", ".join(who.permissions) or "nothing"),
            ]
        )
    )


# -- tokens ---------------------------------------------------------------------------------------


def _tokens_table(tokens: Sequence[ApiTokenOut]) -> Table:
    table = Table(header_style="bold")
    for column in ("PREFIX", "NAME", "PRINCIPAL", "ORGANIZATION", "SCOPES", "STATE", "CREATED", "EXPIRES", "LAST USED"):
        table.add_column(column)
    for t in tokens:
        style = {"active": "green", "expired": "yellow", "revoked": "red"}.get(t.state, "")
        table.add_row(
            t.prefix,
            escape(t.name),
            escape(t.principal),
            escape(t.organization),
            ",".join(t.scopes),
            f"[{style}]{t.state}[/{style}]" if style else t.state,
            when(t.created_at),
            when(t.expires_at) if t.expires_at else "never",
            _ago(t.last_used_at),
        )
    return table


def _ago(moment: datetime | None) -> str:
    return when(moment) if moment is not None else "never"


@token_app.command("create")
def create_token(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="what the token is for, e.g. laptop or ci")],
    scope: Annotated[
        list[Scope] | None,
        typer.Option("--scope", help="read, submit or admin; repeat for several [default: all three]"),
    ] = None,
    expires: Annotated[str | None, typer.Option(help="lifetime, e.g. 30d or 12h [default: until revoked]")] = None,
    for_: Annotated[
        str | None,
        typer.Option("--for", help="mint for this service account or member instead (needs org-admin there)"),
    ] = None,
    org: Annotated[str | None, typer.Option(help="the organization it acts for [default: the home one]")] = None,
    output: OutputOption = None,
) -> None:
    """Mint an API token. It is printed once, alone on stdout; the server keeps only its hash.

    Examples: suanli token create laptop --scope submit --expires 30d

    suanli token create ci --for ci-bot --scope submit
    """
    current = state(ctx, output)
    seconds = None
    if expires is not None:
        try:
            seconds = parse_duration(expires)
        except ValueError as bad:
            raise error(f"--expires: {bad}", code=EXIT_BAD_INPUT) from None
    made = current.client().create_token(name, scope or (), expires_in_s=seconds, principal=for_, organization=org)
    if current.json:
        print_json(made)
        return
    # Plain, not through rich: the token must come out exactly, for `$(suanli token create x)`.
    sys.stdout.write(made.token + "\n")
    until = f"until {when(made.expires_at)}" if made.expires_at else "until revoked"
    note(
        f"token {made.prefix} ({made.name}) for {made.principal} in {made.organization}, scopes "
        f"{','.join(made.scopes)}, {until}: keep it now, it is not shown again "
        "(another machine: `suanli login --token ...`)"
    )


@token_app.command("list")
def list_tokens(ctx: typer.Context, output: OutputOption = None) -> None:
    """List your tokens (never their secrets), with their state and when each was last used.

    Example: suanli token list -o json
    """
    current = state(ctx, output)
    tokens = current.client().list_tokens()
    show_list(current, tokens, _tokens_table, empty="no tokens")


@token_app.command("revoke")
def revoke_token(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(help="the token's prefix, as `suanli token list` shows it")],
    output: OutputOption = None,
) -> None:
    """Revoke a token: the server refuses it from now on (other server processes within seconds).

    Example: suanli token revoke AbCd1234
    """
    current = state(ctx, output)
    revoked = current.client().revoke_token(prefix)
    if current.json:
        print_json(revoked)
    else:
        out.print(f"revoked token {revoked.prefix} ({escape(revoked.name)}) of {escape(revoked.principal)}")


# -- organizations, projects, members -------------------------------------------------------------


@org_app.command("list")
def list_organizations(ctx: typer.Context, output: OutputOption = None) -> None:
    """List organizations: yours, or every one for a platform admin.

    Example: suanli org list
    """
    current = state(ctx, output)
    show_list(current, current.client().list_organizations(), _organizations_table, empty="no organizations")


def _organizations_table(found: Sequence[OrganizationOut]) -> Table:
    table = Table("NAME", "KIND", "DISPLAY NAME", header_style="bold")
    for o in found:
        table.add_row(escape(o.name), o.kind, escape(o.display_name))
    return table


@org_app.command("add")
def add_organization(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="lowercase letters, digits and dashes")],
    kind: Annotated[OrganizationKind, typer.Option(help="enterprise, university, lab, center-owner, agency")],
    display_name: Annotated[str, typer.Option(help="the name people read")] = "",
    output: OutputOption = None,
) -> None:
    """Add an organization (a platform admin's task).

    Example: suanli org add qd-university --kind university --display-name "Qingdao University"
    """
    current = state(ctx, output)
    made = current.client().add_organization(name, kind, display_name)
    if current.json:
        print_json(made)
    else:
        out.print(f"added organization {escape(made.name)} ({made.kind})")


def _organization(current_org: str | None, ctx: typer.Context) -> str:
    return current_org or state(ctx).client().whoami().organization


@project_app.command("list")
def list_projects(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option(help="the organization [default: your token's]")] = None,
    output: OutputOption = None,
) -> None:
    """List an organization's projects.

    Example: suanli project list --org qd-university
    """
    current = state(ctx, output)
    found = current.client().list_projects(_organization(org, ctx))
    if current.json:
        print_list(found)
    else:
        for p in found:
            out.print(f"{escape(p.organization)}/{escape(p.name)}")


@project_app.command("add")
def add_project(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="lowercase letters, digits and dashes")],
    org: Annotated[str | None, typer.Option(help="the organization [default: your token's]")] = None,
    output: OutputOption = None,
) -> None:
    """Add a project to an organization.

    Example: suanli project add vision --org qd-university
    """
    current = state(ctx, output)
    made = current.client().add_project(_organization(org, ctx), name)
    if current.json:
        print_json(made)
    else:
        out.print(f"added project {escape(made.organization)}/{escape(made.name)}")


@member_app.command("list")
def list_members(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option(help="the organization [default: yours]")] = None,
    output: OutputOption = None,
) -> None:
    """List an organization's users and service accounts with their roles there.

    Example: suanli member list --org qd-university
    """
    current = state(ctx, output)
    organization = _organization(org, ctx)
    members = current.client().list_members(organization)
    show_list(current, members, _members_table, empty=f"no members in {escape(organization)}")


def _members_table(members: Sequence[MemberOut]) -> Table:
    table = Table("NAME", "KIND", "ROLES", "HOME", "STATE", header_style="bold")
    for member in members:
        table.add_row(
            escape(member.name),
            member.kind,
            ", ".join(member.roles) or "-",
            escape(member.home_organization),
            "disabled" if member.disabled else "active",
        )
    return table


@member_app.command("remove")
def remove_member(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="a user or service account")],
    org: Annotated[str, typer.Option(help="the organization")],
    role: Annotated[Role | None, typer.Option(help="the role to take [default: every role there]")] = None,
    output: OutputOption = None,
) -> None:
    """Take a role (or every role) in an organization from a user or service account; its tokens
    lose what the role allowed at once.

    Example: suanli member remove ci-bot --org qd-university --role member
    """
    current = state(ctx, output)
    member = current.client().remove_member(org, name, role)
    if current.json:
        print_json(member)
    else:
        left = ", ".join(member.roles) or "no role"
        out.print(f"{escape(member.name)} now holds {escape(left)} in {escape(org)}")


@member_app.command("password")
def set_password(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the user: yourself, or a member of an organization you administer")],
    output: OutputOption = None,
) -> None:
    """Set a user's password (asked for twice, without echo; SUANLI_PASSWORD for scripts). Your own
    needs your current one. Every browser session of that user ends.

    Example: suanli member password alice
    """
    current = state(ctx, output)
    client = current.client()
    own = client.whoami().name == name
    secret = os.environ.get("SUANLI_PASSWORD") or typer.prompt(
        f"new password for {name}", hide_input=True, confirmation_prompt=True, err=True
    )
    previous = (
        typer.prompt("your current password (none yet: press Enter)", hide_input=True, default="", err=True)
        if own
        else ""
    )
    member = client.set_password(name, secret, current_password=previous or None)
    if current.json:
        print_json(member)
    else:
        out.print(f"{escape(member.name)} has a new password; its browser sessions have ended")


@member_app.command("disable")
def disable_member(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="a user or service account")],
    output: OutputOption = None,
) -> None:
    """Disable a user or service account: every token of it is refused from now on (`member
    enable` undoes it). Its jobs go on.

    Example: suanli member disable ci-bot
    """
    _set_disabled(ctx, name, True, output)


@member_app.command("enable")
def enable_member(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="a user or service account")],
    output: OutputOption = None,
) -> None:
    """Enable a disabled user or service account again: its tokens that are not revoked or expired
    work again.

    Example: suanli member enable ci-bot
    """
    _set_disabled(ctx, name, False, output)


def _set_disabled(ctx: typer.Context, name: str, disabled: bool, output: Any) -> None:
    current = state(ctx, output)
    member = current.client().set_disabled(name, disabled)
    if current.json:
        print_json(member)
    else:
        out.print(f"{escape(member.name)} is {'disabled: its tokens are refused' if disabled else 'enabled'}")


@member_app.command("add")
def add_member(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="a user or service account; a new name is created")],
    org: Annotated[str, typer.Option(help="the organization")],
    role: Annotated[Role, typer.Option(help="org-admin, member, viewer, center-operator, auditor, platform-admin")],
    service: Annotated[bool, typer.Option("--service", help="a new name is a service account (CI, a gateway)")] = False,
    output: OutputOption = None,
) -> None:
    """Give a user or service account a role in an organization; a new name is created there.
    It acts with tokens an admin mints for it: suanli token create NAME --for IT.

    Example: suanli member add ci-bot --service --org qd-university --role member
    """
    current = state(ctx, output)
    member = current.client().add_member(org, name, role, kind="service" if service else None)
    if current.json:
        print_json(member)
    else:
        out.print(
            f"{escape(member.name)} ({member.kind}) holds {', '.join(member.roles)} in {escape(member.organization)}"
        )
