"""spaces.yaml, read and checked: the Manifest a deploy is made from, and the Space README's
front matter rendered from it.

Every problem in the file is found in one pass and reported one per line (ManifestInvalid):
unknown keys and hardware, malformed hub ids, secrets named but not exported, anything that looks
like a secret value written into the file or a public variable. A message never quotes a
secret-looking value back. This module makes no hub calls (pricer.deploy does).

    >>> parse_duration("30m"), hide_secrets("key hf_" + "a1B2" * 9)
    (1800, 'key <hidden>')
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pricer.config import ENV, Settings
from pricer.errors import BadInput, NotFound
from pricer.redact import hide_secrets, looks_random, secrets_in_text

COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")
SHORT_DESCRIPTION_MAX = 60  # the Hub's limit for the card's one-liner

# key -> what it is; the comments in spaces.yaml say the same at more length.
KEYS = {
    "space_id": "owner/name of the Space",
    "title": "title on the Space card",
    "emoji": "emoji on the Space card",
    "colorFrom": "card gradient start colour",
    "colorTo": "card gradient end colour",
    "short_description": "one line on the card (60 characters at most)",
    "sdk": "gradio",
    "sdk_version": "gradio version on the Space (default: the one installed here)",
    "python_version": "Python on the Space, a quoted string such as \"3.11\"",
    "app_file": "the app's entry file",
    "pinned": "pin the Space on your profile",
    "license": "licence of this code on the card",
    "tags": "tags on the card",
    "hardware": "hardware flavour to request, e.g. t4-small",
    "sleep_time": "idle time before the Space sleeps: seconds, 30m, 1h, or never",
    "startup_duration_timeout": "how long the Space may take to start, e.g. 30m or 1h",
    "visibility": "private or public",
    "secrets": "names of environment variables copied into Space secrets",
    "variables": "public Space variables (PRICER_*)",
    "models": "models linked on the card",
    "datasets": "datasets linked on the card",
    "exclude": "extra glob patterns left out of the upload",
}
REQUIRED = ("space_id", "title", "hardware")

# a secret's NAME: HF_TOKEN, OPENAI_API_KEY, DB_PASSWORD (but not PRICER_TOKENIZER)
SECRET_WORDS = re.compile(r"(?:^|_)(?:TOKEN|SECRET|PASSWORD|PASSWD|KEY|APIKEY)(?:_|$)")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DURATION = re.compile(r"(\d+)([smhd])")


@dataclass(frozen=True)
class Manifest:
    """A validated spaces.yaml."""

    space_id: str
    """owner/name of the Space."""
    front_matter: dict[str, Any]
    """The Space's README front matter, in the order the Hub's docs list the keys."""
    hardware: str
    """A huggingface_hub SpaceHardware value, e.g. 't4-small' or 'zero-a10g'."""
    sleep_time: int | None
    """Seconds of idleness before the Space sleeps; -1 never; None leaves the Hub's default."""
    private: bool
    """Create the Space private (visibility: private)."""
    secrets: dict[str, str]
    """Space secret name -> the environment variable its value is read from (values never kept)."""
    variables: dict[str, str]
    """Public Space variables."""
    exclude: tuple[str, ...]
    """Extra glob patterns left out of the upload."""
    root: Path
    """The folder holding spaces.yaml: the app that is uploaded."""


class ManifestInvalid(BadInput):
    """spaces.yaml cannot be deployed as written; `problems` has one line per problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = [hide_secrets(p) for p in problems]  # a pasted token may sit in a key or value
        problems = self.problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path} has {len(problems)} problem(s); fix them and run again:\n{lines}")


# --- values -------------------------------------------------------------------------------------


def parse_duration(value: object) -> int:
    """Seconds in a duration written as seconds, '90s', '30m', '1h', '2d', or 'never' (-1).

    >>> parse_duration("30m"), parse_duration(3600), parse_duration("never")
    (1800, 3600, -1)
    """
    if isinstance(value, bool):
        raise ValueError("a duration, not true/false")
    if isinstance(value, int):
        return value
    text = str(value).strip().lower()
    if text in {"never", "-1"}:
        return -1
    if text.isdigit():
        return int(text)
    match = DURATION.fullmatch(text)
    if not match:
        raise ValueError(f"{value!r} is not a duration (seconds, 30m, 1h, 2d or never)")
    return int(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]


def installed_gradio() -> str | None:
    """The gradio version installed here (read from package metadata, without importing gradio)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gradio")
    except PackageNotFoundError:
        return None


def hardware_choices() -> list[str]:
    """The hardware flavours huggingface_hub knows, e.g. ['cpu-basic', ..., 't4-small', ...]."""
    from huggingface_hub import SpaceHardware

    return [h.value for h in SpaceHardware]


def known_settings() -> set[str]:
    """The PRICER_* variables pricer reads (one per Settings field), to catch misspelt ones."""
    return {ENV[f.name] for f in fields(Settings)}


def _closest(word: str, choices: list[str] | set[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _repo_id_problem(value: object, key: str) -> str | None:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not isinstance(value, str) or value.count("/") != 1:
        return f"{key}: {value!r} is not an id of the form owner/name"
    try:
        validate_repo_id(value)
    except HFValidationError:
        return (f"{key}: {value!r} is not a valid hub id (letters, digits, '-', '_', '.'; no '--' or "
                "'..'; at most 96 characters)")
    return None


# --- load and validate --------------------------------------------------------------------------


MAX_MANIFEST_BYTES = 1 << 20  # spaces.yaml is a page of settings; anything bigger is a mistake


def _no_alias_loader() -> type:
    """yaml.SafeLoader refusing aliases (`*name`): spaces.yaml has no use for them, and a few
    nested ones expand to gigabytes once anything walks the result (a "billion laughs")."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"an alias (*{event.anchor}) is not allowed here: write the value out in full",
                    event.start_mark)
            return super().compose_node(parent, index)

    return NoAliasLoader


def safe_yaml(text: str) -> Any:
    """YAML text as Python data, aliases refused (yaml.YAMLError) and nesting bounded (RecursionError)."""
    import yaml

    return yaml.load(text, Loader=_no_alias_loader())  # a SafeLoader: no Python objects


def load_manifest(path: str | os.PathLike = "spaces.yaml", environ: dict[str, str] | None = None) -> Manifest:
    """Read and validate spaces.yaml; raise ManifestInvalid listing every problem at once."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise NotFound(f"No manifest at {path}: copy spaces.yaml from the pricer repository and fill it in.")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ManifestInvalid(path, [f"the file is {path.stat().st_size:,} bytes; a manifest is a page of settings "
                                     f"(at most {MAX_MANIFEST_BYTES:,} bytes)"])
    text = path.read_text(encoding="utf-8")
    problems = [f"line {n}: looks like {what} written into the file; never put secret values here: "
                f"export it and name it under secrets: (if it is real, revoke it now)"
                for n, what in secrets_in_text(text)]
    try:
        raw = safe_yaml(text)
    except yaml.YAMLError as exc:  # the problem and its place, never the file's text around it
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ManifestInvalid(path, problems + [f"not valid YAML{where}: "
                                                f"{getattr(exc, 'problem', None) or 'cannot parse'}"]) from None
    except RecursionError:
        raise ManifestInvalid(path, problems + ["not valid YAML: nested too deeply"]) from None
    if not isinstance(raw, dict):
        raise ManifestInvalid(path, problems + ["the file must be a mapping of keys such as space_id: ..."])
    manifest, more = _validate(raw, path.resolve().parent, os.environ if environ is None else environ)
    problems += more
    if problems:
        raise ManifestInvalid(path, problems)
    assert manifest is not None
    return manifest


def _validate(raw: dict, root: Path, environ: dict[str, str]) -> tuple[Manifest | None, list[str]]:
    problems: list[str] = []
    for key in raw:
        if key not in KEYS:
            problems.append(f"unknown key {key!r}{_closest(str(key), KEYS)}")
    for key in REQUIRED:
        if raw.get(key) in (None, ""):
            problems.append(f"{key}: missing ({KEYS[key]})")

    if raw.get("space_id"):
        problems += filter(None, [_repo_id_problem(raw["space_id"], "space_id")])
    for key in ("models", "datasets"):
        ids = raw.get(key) or []
        if not isinstance(ids, list):
            problems.append(f"{key}: a list of hub ids (owner/name), one per '- ' line")
            ids = []
        problems += filter(None, [_repo_id_problem(i, f"{key}[{n}]") for n, i in enumerate(ids)])

    hardware = str(raw.get("hardware") or "")
    choices = hardware_choices()
    if hardware and hardware not in choices:
        problems.append(f"hardware: unknown hardware {hardware!r}{_closest(hardware, choices)}; choose one "
                        f"of {', '.join(choices)}")

    sleep_time = None
    if raw.get("sleep_time") is not None:
        try:
            sleep_time = parse_duration(raw["sleep_time"])
            if sleep_time == 0 or sleep_time < -1:
                raise ValueError("a positive duration or never")
            if hardware == "cpu-basic" and sleep_time != -1:
                problems.append("sleep_time: a cpu-basic Space always sleeps after 48 h without visitors; "
                                "remove sleep_time or choose paid hardware")
        except ValueError as exc:
            problems.append(f"sleep_time: {exc}")
    if raw.get("startup_duration_timeout") is not None:
        timeout = str(raw["startup_duration_timeout"]).strip()
        if not DURATION.fullmatch(timeout) or timeout.endswith("d"):
            problems.append(f"startup_duration_timeout: {timeout!r} is not a duration such as 30m or 1h")

    for key in ("title", "emoji", "short_description", "license"):
        if key in raw and not isinstance(raw[key], str):
            problems.append(f"{key}: write it as text")
    if len(str(raw.get("short_description") or "")) > SHORT_DESCRIPTION_MAX:
        problems.append(f"short_description: {len(raw['short_description'])} characters; the Hub allows "
                        f"{SHORT_DESCRIPTION_MAX}")
    for key in ("colorFrom", "colorTo"):
        if key in raw and raw[key] not in COLORS:
            problems.append(f"{key}: {raw[key]!r} is not a card colour; choose one of {', '.join(COLORS)}")
    if raw.get("sdk", "gradio") != "gradio":
        problems.append(f"sdk: this app is a gradio app, so sdk must be gradio, not {raw['sdk']!r}")
    for key, pattern in (("sdk_version", r"\d+\.\d+(\.\d+)?"), ("python_version", r"3\.\d+(\.\d+)?")):
        value = raw.get(key)
        if isinstance(value, float):
            problems.append(f"{key}: write it in quotes, e.g. \"{value}\" (YAML reads an unquoted "
                            f"{value} as a number, and 3.10 as 3.1)")
        elif value is not None and not re.fullmatch(pattern, str(value)):
            problems.append(f"{key}: {value!r} is not a version such as {'6.31.0' if key == 'sdk_version' else '3.11'}")
    sdk_version = raw.get("sdk_version") or installed_gradio()
    if not sdk_version:
        problems.append("sdk_version: gradio is not installed here, so write the version the Space should run")
    app_file = str(raw.get("app_file") or "app.py")
    if not (root / app_file).is_file():
        problems.append(f"app_file: {app_file} does not exist next to spaces.yaml")
    visibility = raw.get("visibility", "private")
    if visibility not in ("private", "public"):
        problems.append(f"visibility: {visibility!r}; write private or public")
    for key in ("pinned",):
        if key in raw and not isinstance(raw[key], bool):
            problems.append(f"{key}: true or false")
    for key in ("tags", "exclude"):
        if key in raw and not (isinstance(raw[key], list) and all(isinstance(v, str) for v in raw[key])):
            problems.append(f"{key}: a list of strings, one per '- ' line")

    secrets, more = _secrets(raw.get("secrets"), environ)
    problems += more
    variables, more = _variables(raw.get("variables"), secrets, known_settings())
    problems += more
    if problems:
        return None, problems

    front_matter = {
        "title": raw["title"],
        "emoji": raw.get("emoji", "🏷️"),
        "colorFrom": raw.get("colorFrom", "green"),
        "colorTo": raw.get("colorTo", "blue"),
        "sdk": "gradio",
        "sdk_version": str(sdk_version),
        "python_version": str(raw.get("python_version", "3.11")),
        "app_file": app_file,
        "pinned": raw.get("pinned", False),
        "short_description": raw.get("short_description"),
        "license": raw.get("license"),
        # the Hub's card accepts paid flavours only: ZeroGPU is requested, not suggested
        "suggested_hardware": None if hardware.startswith("zero-") else hardware,
        "startup_duration_timeout": raw.get("startup_duration_timeout"),
        "models": raw.get("models"),
        "datasets": raw.get("datasets"),
        "tags": raw.get("tags"),
    }
    front_matter = {k: v for k, v in front_matter.items() if v not in (None, [], "")}
    manifest = Manifest(space_id=raw["space_id"], front_matter=front_matter, hardware=hardware,
                        sleep_time=sleep_time, private=visibility == "private", secrets=secrets,
                        variables=variables, exclude=tuple(raw.get("exclude") or ()), root=root)
    return manifest, []


def _secrets(raw: object, environ: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """secrets: [NAME, ...] or {NAME: FROM_ENV_VAR}: Space secret name -> environment variable."""
    if raw is None:
        return {}, []
    if isinstance(raw, list):
        pairs = [(name, name) for name in raw]
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        return {}, ["secrets: a list of environment variable NAMES, e.g. - HF_TOKEN (never their values)"]
    secrets, problems = {}, []
    for name, source in pairs:
        if not (isinstance(name, str) and ENV_NAME.fullmatch(name)
                and isinstance(source, str) and ENV_NAME.fullmatch(source)):
            problems.append("secrets: each entry is an environment variable NAME such as HF_TOKEN; "
                            "the value stays in your environment")
            continue
        if not environ.get(source):
            problems.append(f"secrets: {source} is named but not set in this environment: "
                            f"export {source}=... before deploying")
        secrets[name] = source
    return secrets, problems


def _variables(raw: object, secrets: dict[str, str], known: set[str]) -> tuple[dict[str, str], list[str]]:
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, ["variables: a mapping of NAME: value lines"]
    variables, problems = {}, []
    for name, value in raw.items():
        where = f"variables.{name}"
        if not (isinstance(name, str) and ENV_NAME.fullmatch(name)):
            problems.append(f"{where}: not a valid environment variable name")
            continue
        if isinstance(value, (dict, list)) or value is None:
            problems.append(f"{where}: a single value (text or number)")
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if name in secrets or SECRET_WORDS.search(name.upper()):
            problems.append(f"{where}: variables are public; a secret goes under secrets: by NAME, with "
                            "its value exported in your environment")
        elif looks_random(text.strip()):
            problems.append(f"{where}: the value looks like a secret (a long random string); variables are "
                            "public, so export it and name it under secrets: instead")
        if name.startswith("PRICER_") and known and name not in known:
            problems.append(f"{where}: no pricer setting reads {name}{_closest(name, known)}")
        variables[name] = text
    return variables, problems


# --- the Space README -----------------------------------------------------------------------------


def render_front_matter(manifest: Manifest) -> str:
    """The Space README's YAML block, '---' lines included."""
    import yaml

    body = yaml.safe_dump(manifest.front_matter, sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=1000)
    return f"---\n{body}---\n"


def split_front_matter(text: str) -> tuple[dict | None, str]:
    """(front matter as a dict or None, the rest) of a README."""
    match = re.match(r"---\r?\n(.*?)\r?\n---\r?\n?", text, re.DOTALL)
    if not match:
        return None, text
    return safe_yaml(match[1]) or {}, text[match.end():]


def render_readme(manifest: Manifest) -> str:
    """The README.md the Space gets: front matter from the manifest, body from the repo's README."""
    readme = manifest.root / "README.md"
    body = split_front_matter(readme.read_text(encoding="utf-8"))[1] if readme.is_file() else ""
    return render_front_matter(manifest) + "\n" + body.lstrip("\n")
