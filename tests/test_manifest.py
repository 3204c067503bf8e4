"""spaces.yaml: validated in one pass (one clear line per problem, a secret never quoted back),
rendered into the Space README's front matter; the repository's own manifest is valid and its
README agrees with it."""

from __future__ import annotations

import pytest
import yaml
from space_project import OWNER_SPACE, ROOT, TOKEN, problems, write_manifest

from pricer.cli import main
from pricer.config import ENV
from pricer.manifest import load_manifest, render_front_matter, render_readme, split_front_matter

# --- validation: one clear line per problem ---------------------------------------------------


def test_a_complete_manifest_is_valid(project, token_env):
    manifest = load_manifest(project / "spaces.yaml", token_env)
    assert manifest.space_id == OWNER_SPACE and manifest.hardware == "t4-small"
    assert manifest.sleep_time == 3600 and manifest.private
    assert manifest.secrets == {"HF_TOKEN": "HF_TOKEN"}


def test_unknown_hardware_lists_the_valid_ones_from_huggingface_hub(project, token_env):
    from huggingface_hub import SpaceHardware

    [line] = problems(write_manifest(project, hardware="t4"), token_env)
    assert line.startswith("hardware: unknown hardware 't4'")
    assert all(h.value in line for h in SpaceHardware)


@pytest.mark.parametrize("space_id, says", [
    ("just-a-name", "is not an id of the form owner/name"),
    ("me/bad--name", "is not a valid hub id"),
    ("me/with space", "is not a valid hub id"),
    ("a/b/c", "is not an id of the form owner/name"),


])
def test_malformed_space_id_is_refused(project, token_env, space_id, says):
    [line] = problems(write_manifest(project, space_id=space_id), token_env)
    assert line.startswith("space_id:") and says in line


def test_a_secret_named_but_absent_from_the_environment_is_refused(project):
    [line] = problems(write_manifest(project, secrets=["HF_TOKEN", "OPENAI_API_KEY"]), {"HF_TOKEN": TOKEN})
    assert line == ("secrets: OPENAI_API_KEY is named but not set in this environment: "
                    "export OPENAI_API_KEY=... before deploying")


def test_a_token_written_into_the_file_is_refused_without_repeating_it(project, token_env):
    path = write_manifest(project, variables={"PRICER_ADAPTER": TOKEN})
    lines = problems(path, token_env)
    assert any("looks like a Hugging Face token written into the file" in line for line in lines)
    assert not any(TOKEN in line or TOKEN[:8] in line for line in lines)


@pytest.mark.parametrize("changes", [
    {"hardware": TOKEN}, {"secrets": [TOKEN]}, {"secrets": {"HF_TOKEN": TOKEN}}, {TOKEN: "x"},
    {"variables": {TOKEN: "1"}}, {"space_id": f"me/{TOKEN}x-"}, {"models": [TOKEN]},


])
def test_a_pasted_token_is_never_quoted_back_wherever_it_is(project, capsys, monkeypatch, changes):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert main(["deploy", "--config", str(write_manifest(project, **changes)), "--dry-run"]) == 2
    out, err = capsys.readouterr()
    assert "looks like a Hugging Face token" in err
    assert TOKEN not in out + err and TOKEN[3:15] not in out + err


def test_a_key_in_a_comment_is_found_by_its_line(project, token_env):
    text = write_manifest(project).read_text() + "# my key: sk-proj-" + "aB3" * 12 + "\n"
    lines = problems(write_manifest(project, text), token_env)
    assert lines == [f"line {len(text.splitlines())}: looks like an OpenAI-style API key written into the "
                     "file; never put secret values here: export it and name it under secrets: "
                     "(if it is real, revoke it now)"]


def test_a_long_random_variable_value_looks_like_a_secret(project, token_env):
    [line] = problems(write_manifest(project, variables={"PRICER_PRELOAD": "Qm9vTk2xR7pLwZ4cY8vB1nHsE5"}),
                      token_env)
    assert line.startswith("variables.PRICER_PRELOAD: the value looks like a secret")


def test_a_commit_sha_and_hub_ids_are_not_mistaken_for_secrets(project, token_env):
    load_manifest(project / "spaces.yaml", token_env)  # has a 40-hex revision and hub ids


def test_a_secret_name_among_the_public_variables_is_refused(project, token_env):
    [line] = problems(write_manifest(project, variables={"OPENAI_API_KEY": "x"}), token_env)
    assert line.startswith("variables.OPENAI_API_KEY: variables are public")


def test_a_setting_whose_name_merely_contains_token_is_public(project, token_env):
    manifest = load_manifest(write_manifest(project, variables={"PRICER_TOKENIZER": "gpt2"}), token_env)
    assert manifest.variables == {"PRICER_TOKENIZER": "gpt2"}


def test_unknown_keys_suggest_the_closest_valid_key(project, token_env):
    text = write_manifest(project).read_text().replace("hardware:", "hardwre:")
    lines = problems(write_manifest(project, text), token_env)
    assert "unknown key 'hardwre' (did you mean 'hardware'?)" in lines
    assert "hardware: missing (hardware flavour to request, e.g. t4-small)" in lines


def test_a_misspelt_pricer_variable_suggests_the_setting(project, token_env):
    [line] = problems(write_manifest(project, variables={"PRICER_ADAPTR": "none"}), token_env)
    assert line == "variables.PRICER_ADAPTR: no pricer setting reads PRICER_ADAPTR (did you mean 'PRICER_ADAPTER'?)"


def test_an_unquoted_python_version_is_explained(project, token_env):
    text = write_manifest(project).read_text().replace("python_version: '3.11'", "python_version: 3.10")
    [line] = problems(write_manifest(project, text), token_env)
    assert line.startswith("python_version: write it in quotes") and "3.10 as 3.1" in line


@pytest.mark.parametrize("changes, starts", [
    ({"short_description": "x" * 61}, "short_description: 61 characters"),
    ({"colorFrom": "orange"}, "colorFrom: 'orange' is not a card colour"),
    ({"hardware": "cpu-basic"}, "sleep_time: a cpu-basic Space always sleeps"),
    ({"sleep_time": "soon"}, "sleep_time: 'soon' is not a duration"),
    ({"startup_duration_timeout": "forever"}, "startup_duration_timeout: 'forever' is not a duration"),
    ({"visibility": "secret"}, "visibility: 'secret'"),
    ({"sdk": "docker"}, "sdk: this app is a gradio app"),
    ({"app_file": "main.py"}, "app_file: main.py does not exist"),
    ({"models": ["llama"]}, "models[0]: 'llama' is not an id of the form owner/name"),


])
def test_each_bad_value_gets_its_own_line(project, token_env, changes, starts):
    [line] = problems(write_manifest(project, **changes), token_env)
    assert line.startswith(starts)


def test_every_problem_is_reported_at_once_by_the_cli_in_one_line_each(project, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    path = write_manifest(project, hardware="t5", space_id="nope", colour="red")
    assert main(["deploy", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path} has 4 problem(s)")
    assert [line.split(":")[0] for line in err.splitlines()[1:]] == [
        "  - unknown key 'colour' (did you mean 'colorTo'?)", "  - space_id", "  - hardware", "  - secrets"]
    # a dry run sends nothing: a secret not exported yet is noted, not counted against it
    assert main(["deploy", "--config", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path} has 3 problem(s)") and "  - secrets" not in err


def test_a_yaml_syntax_error_gives_its_line_not_the_text(project, token_env):
    [line] = problems(write_manifest(project, "space_id: [unclosed\ntitle: x\n"), token_env)
    assert line.startswith("not valid YAML at line")


# --- front matter and README ------------------------------------------------------------------


def test_front_matter_is_rendered_from_the_manifest(project, token_env):
    manifest = load_manifest(project / "spaces.yaml", token_env)
    text = render_front_matter(manifest)
    assert text.startswith("---\n") and text.endswith("\n---\n")
    assert yaml.safe_load(text.strip("-\n")) == {
        "title": "The Price is Right", "emoji": "🏷️", "colorFrom": "green", "colorTo": "blue",
        "sdk": "gradio", "sdk_version": "6.31.0", "python_version": "3.11", "app_file": "app.py",
        "pinned": False, "short_description": "Price products with a 4-bit Llama 3.1 8B",
        "suggested_hardware": "t4-small", "startup_duration_timeout": "1h",
        "models": ["meta-llama/Meta-Llama-3.1-8B"], "datasets": ["ed-donner/pricer-data"]}
    assert "python_version: '3.11'" in text  # a string on the Hub too, not the number 3.11


def test_sdk_version_defaults_to_the_installed_gradio(project, token_env):
    from importlib.metadata import version

    manifest = load_manifest(write_manifest(project, sdk_version=None), token_env)
    assert manifest.front_matter["sdk_version"] == version("gradio")


def test_the_space_readme_is_the_rendered_front_matter_over_the_repo_readme_body(project, token_env):
    manifest = load_manifest(project / "spaces.yaml", token_env)
    readme = render_readme(manifest)
    assert readme == render_front_matter(manifest) + "\n# pricer\n\nThe body.\n"


# --- the repository's own manifest ------------------------------------------------------------


def test_the_repository_manifest_is_valid_and_its_readme_agrees_with_it(token_env):
    manifest = load_manifest(ROOT / "spaces.yaml", token_env)
    readme_front_matter, _ = split_front_matter((ROOT / "README.md").read_text(encoding="utf-8"))
    assert readme_front_matter == manifest.front_matter
    assert (ROOT / "README.md").read_text(encoding="utf-8").startswith(render_front_matter(manifest))


def test_the_repository_space_runs_the_gradio_the_tests_use(token_env):
    manifest = load_manifest(ROOT / "spaces.yaml", token_env)
    pins = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert f"gradio=={manifest.front_matter['sdk_version']}" in pins
    assert not any(line.startswith("gradio") for line in (ROOT / "requirements.txt").read_text().splitlines())


def test_every_setting_is_a_known_variable_and_nothing_else_is(project, token_env):
    variables = {name: "1" for name in ENV.values()}  # PRICER_CACHE, PRICER_ALLOW_CPU, ...: all settings
    assert load_manifest(write_manifest(project, variables=variables), token_env).variables == variables
    (project / "pricer" / "scratch_notes.py").write_text('PRICER_SCRATCH = "read by no setting"\n')
    [line] = problems(write_manifest(project, variables={"PRICER_SCRATCH": "1"}), token_env)
    assert line.startswith("variables.PRICER_SCRATCH: no pricer setting reads PRICER_SCRATCH")
