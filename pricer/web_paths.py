"""Which local files and folders a request from the web app may name: only those inside the
folders the operator chose. The CLI reads any path; a public Space must not be a way into the
server's disk.

The folders allowed (`allowed_roots`): pricer's cache (PRICER_CACHE), the configured base model,
adapter, tokenizer and dataset when they are local (the dataset's own file when it is a file),
the web server's upload folder (gradio's GRADIO_TEMP_DIR, else <tmp>/gradio) and any named in
PRICER_WEB_PATHS. A name is judged by its real path (symlinks followed, `..` folded), so a
link inside an allowed folder that points out of it is refused too.

`web_path` answers a name outside them with one message, whether or not the path exists, and
never lists a folder: a visitor learns nothing about the disk. pricer.hub.resolve calls it for
every name that comes from the web (`web=True`); it reads nothing itself.

    >>> inside(Path("/srv/data/test.jsonl"), (Path("/srv/data"),)), inside(Path("/srv/other"), (Path("/srv/data"),))
    (True, False)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pricer.errors import BadInput

WEB_ONLY = ("The web app reads local files only from the folders its operator allowed: {instead}. "
            "(An operator allows a folder with PRICER_WEB_PATHS; the command line reads any path.)")
INSTEAD = "give {hub_name}, or upload the file where the page offers an upload"


def real(path: str | os.PathLike) -> Path:
    """The absolute path with `~` expanded, every symlink followed and `..` folded."""
    return Path(os.path.realpath(Path(path).expanduser()))


def upload_dir() -> Path:
    """Where the web server keeps uploaded files (gradio's rule: GRADIO_TEMP_DIR, else <tmp>/gradio)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


def allowed_roots() -> tuple[Path, ...]:
    """The real paths a web request may read inside (read from the settings on every call)."""
    from pricer.config import cache_dir, settings

    s = settings()
    configured = [s.base_model, s.adapter, s.tokenizer, s.dataset]
    local = [Path(name).expanduser() for name in configured if name and os.path.exists(Path(name).expanduser())]
    return tuple(dict.fromkeys(real(p) for p in (cache_dir(), upload_dir(), *local, *s.web_paths)))


def inside(path: Path, roots: tuple[Path, ...]) -> bool:
    """True when `path` is one of `roots` or lies under one (both real paths)."""
    return any(path == root or path.is_relative_to(root) for root in roots)


def web_path(name: str, path_shaped: bool, instead: str = INSTEAD.format(hub_name="a hub id (owner/name)")) -> Path | None:
    """The real path of `name` when it lies inside an allowed folder; else None (the name is to
    be read as a hub id), unless it is `path_shaped` (it can only be a path): then a BadInput that
    does not say whether the path exists, and says what to do `instead`. Whether the path exists
    inside is the caller's to check."""
    if "\0" in name:
        raise BadInput(WEB_ONLY.format(instead=instead))
    path = real(name)
    if inside(path, allowed_roots()):
        return path
    if path_shaped:
        raise BadInput(WEB_ONLY.format(instead=instead))
    return None


def readable_upload(name: str | os.PathLike) -> Path:
    """A file the web app may read that can only be a path (an upload): its real path, or the
    BadInput of web_path."""
    found = web_path(str(name), True, "upload the file")
    if found is None:  # cannot happen: a path-shaped name outside is refused
        raise BadInput(WEB_ONLY.format(instead="upload the file"))
    return found
