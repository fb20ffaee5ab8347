"""House rules of the layout, read from the imports (with ast), as Warehouse enforces its own.

- A domain (articles, licensing, payments, licences) reaches another only through its models
  (and its lifecycle's states, usage labels and form helpers): never its services.
- Domains never import the orchestration layer (portal.workflows) or views.
- A view module never imports another view module.
- Shared modules (audit, uow, lifecycle, db, money, urls, sequences, notifications) import no
  domain at run time.
- Only the Stripe adapter imports stripe.
Each rule is also shown to fail on a made-up module that breaks it.
"""

import ast
from pathlib import Path

import pytest

PORTAL = Path(__file__).resolve().parents[1] / "portal"
DOMAINS = ("articles", "licensing", "payments", "licences")
#: what one domain may use of another
OPEN_TO_OTHER_DOMAINS = ("models", "lifecycle", "usage", "forms", "copy", "certificate")
VIEW_PACKAGES = ("public", "staff", "webhooks", "api")
SHARED = ("audit", "uow", "lifecycle", "db", "money", "urls", "sequences", "notifications")
#: boundaries inside a domain's package: commands, like views, may call workflows
BOUNDARY_FILES = ("cli.py",)


def module_name(path: Path) -> str:
    parts = path.relative_to(PORTAL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(source: str) -> list[str]:
    """Modules imported at run time (imports under `if TYPE_CHECKING:` are left out)."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for inner in ast.walk(child):
                    skipped.add(id(inner))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def is_view(module: str) -> bool:
    parts = module.split(".")
    return (len(parts) == 3 and parts[1] in VIEW_PACKAGES
            and (parts[2] == "views" or parts[2].endswith("_views")))


def violations(module: str, imports: list[str]) -> list[str]:
    parts = module.split(".")
    problems = []
    area = parts[1] if len(parts) > 1 else ""
    for imported in imports:
        target = imported.split(".")
        if target[0] == "stripe" and module != "portal.payments.stripe_provider":
            problems.append(f"{module} imports stripe (only the Stripe adapter may)")
        if target[0] != "portal" or len(target) < 2:
            continue
        other = target[1]
        if (area in DOMAINS and parts[-1] + ".py" not in BOUNDARY_FILES):
            if other in DOMAINS and other != area and (
                    len(target) < 3 or target[2] not in OPEN_TO_OTHER_DOMAINS):
                problems.append(f"{module} (domain {area}) imports {imported}")
            if other == "workflows" or other in VIEW_PACKAGES:
                problems.append(f"{module} (domain {area}) imports {imported}")
        if is_view(module) and is_view(".".join(target[:3])) and ".".join(target[:3]) != module:
            problems.append(f"view {module} imports view {'.'.join(target[:3])}")
        if area in SHARED and other in DOMAINS and parts[-1] + ".py" not in BOUNDARY_FILES:
            problems.append(f"shared {module} imports the domain {imported}")
    return problems


def all_violations() -> list[str]:
    found = []
    for path in sorted(PORTAL.rglob("*.py")):
        module = module_name(path)
        found += violations(module, runtime_imports(path.read_text()))
    return found


def test_the_layout_keeps_its_house_rules() -> None:
    assert all_violations() == []


def test_only_workflows_call_into_two_domains_services() -> None:
    """Outside portal.workflows, no module that acts (a domain, a command) imports the
    services of two domains. (Pages may read from several to show them.)"""
    for path in sorted(PORTAL.rglob("*.py")):
        module = module_name(path)
        area = module.split(".")[1] if "." in module else ""
        if area == "workflows" or area in VIEW_PACKAGES:
            continue
        used = {imp.split(".")[1] for imp in runtime_imports(path.read_text())
                if imp.startswith("portal.") and len(imp.split(".")) > 2
                and imp.split(".")[1] in DOMAINS and imp.split(".")[2] == "services"}
        assert len(used) <= 1, f"{module} calls the services of {sorted(used)}"


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("portal.licensing.services", "from portal.payments.services import refund",
     "imports portal.payments.services"),
    ("portal.payments.services", "from portal.licences import services",
     "imports portal.licences.services"),
    ("portal.licences.services", "from portal.workflows import checkout",
     "imports portal.workflows"),
    ("portal.public.views", "from portal.public.payment_views import pay",
     "view portal.public.views imports view portal.public.payment_views"),
    ("portal.staff.payment_views", "from portal.staff.views import quote",
     "imports view portal.staff.views"),
    ("portal.audit", "from portal.licensing.models import RepublishRequest",
     "shared portal.audit imports the domain"),
    ("portal.payments.services", "import stripe", "imports stripe"),
])
def test_each_rule_catches_a_module_that_breaks_it(module: str, source: str,
                                                   expected: str) -> None:
    assert any(expected in problem for problem in violations(module, runtime_imports(source)))


def test_imports_for_type_checking_only_are_allowed() -> None:
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
              "    from portal.licensing.models import RepublishRequest\n")
    assert violations("portal.audit", runtime_imports(source)) == []
