"""A small Space project (the app folder deploy reads) and its spaces.yaml, for test_manifest and
test_deploy: a complete valid manifest, a change of it written to disk, and its problems."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pricer.manifest import ManifestInvalid, load_manifest

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "hf_" + "Zq7RtY2uVw9XkLm4NpB6cD8eF1gH3jK5s"  # looks real, is not
OWNER_SPACE = "someone/price-is-right"


def manifest_dict(**changes) -> dict:
    """A complete, valid manifest; a change of None removes the key."""
    data = {
        "space_id": OWNER_SPACE,
        "title": "The Price is Right",
        "emoji": "🏷️",
        "colorFrom": "green",
        "colorTo": "blue",
        "short_description": "Price products with a 4-bit Llama 3.1 8B",
        "sdk": "gradio",
        "sdk_version": "6.31.0",
        "python_version": "3.11",
        "app_file": "app.py",
        "hardware": "t4-small",
        "sleep_time": "1h",
        "startup_duration_timeout": "1h",
        "visibility": "private",
        "secrets": ["HF_TOKEN"],
        "variables": {"PRICER_BASE_MODEL": "meta-llama/Meta-Llama-3.1-8B",
                      "PRICER_ADAPTER_REVISION": "e8d637df551603dc86cd7a1598a8f44af4d7ae36",
                      "PRICER_PRELOAD": "1"},
        "models": ["meta-llama/Meta-Llama-3.1-8B"],
        "datasets": ["ed-donner/pricer-data"],
        "exclude": ["pricer/scratch_*.py"],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def make_project(folder: Path) -> Path:
    """A small app folder shaped like the repository, with things that must never be uploaded."""
    files = {
        "app.py": "import ui\n",
        "pricer/__init__.py": '"""pricer"""\n',
        "pricer/config.py": '"""settings"""\n',
        "pricer/scratch_notes.py": "x = 1\n",
        "pricer/__pycache__/config.cpython-311.pyc": "compiled",
        "pricer/.env": "HF_TOKEN=whatever\n",
        "ui/__init__.py": "",
        "ui/predict_tab.py": "def build(): pass\n",
        "requirements.txt": "transformers==5.23.0\n",
        "README.md": "---\ntitle: old\n---\n\n# pricer\n\nThe body.\n",
        "tests/test_x.py": "def test(): pass\n",
        "benchmarks/speed.py": "print(1)\n",
        "data/items.jsonl": "{}\n",
        ".git/config": "[core]\n",
        ".venv/lib/site.py": "",
        "notes.txt": "not part of the app\n",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    write_manifest(folder)
    return folder


def write_manifest(folder: Path, text: str | None = None, **changes) -> Path:
    path = folder / "spaces.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(manifest_dict(**changes), allow_unicode=True, sort_keys=False))
    return path


def problems(path: Path, environ: dict[str, str]) -> list[str]:
    with pytest.raises(ManifestInvalid) as err:
        load_manifest(path, environ)
    return err.value.problems
