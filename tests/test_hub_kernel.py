"""The hub's kernel spec is written beside ipykernel's, never through it."""
import json
import os
import sys
from pathlib import Path

HUB = Path(__file__).resolve().parents[1] / "hub"


def test_installing_the_course_kernel_leaves_a_hard_linked_kernel_json_alone(tmp_path, monkeypatch):
    # uv hard-links ipykernel's kernel.json from its cache into every environment it installs.
    monkeypatch.syspath_prepend(str(HUB))
    sys.modules.pop("course_hub.kernel", None)
    from course_hub import kernel

    cache = tmp_path / "cache-kernel.json"
    original = {"argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]}
    cache.write_text(json.dumps(original))
    folder = tmp_path / "prefix" / "share" / "jupyter" / "kernels" / kernel.SPEC_NAME
    folder.mkdir(parents=True)
    os.link(cache, folder / "kernel.json")

    kernel.install(tmp_path / "prefix")

    assert json.loads(cache.read_text()) == original
    assert json.loads((folder / "kernel.json").read_text())["argv"][:3] == ["python", "-m", "course_hub.kernel"]
