"""`python -m course_hub setup [PREFIX]`: the course's kernel and the course-work page, switched on
in the Jupyter environment at PREFIX (default: this Python's)."""
import json
import sys
from pathlib import Path

from . import kernel


def setup(prefix):
    config = Path(prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "course_hub.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"ServerApp": {"jpserver_extensions": {"course_hub": True}}}, indent=1) + "\n")
    print(f"Server extension: {config}\nKernel spec: {kernel.install(prefix)}")


if __name__ == "__main__":
    if sys.argv[1:2] != ["setup"]:
        sys.exit(__doc__)
    setup(sys.argv[2] if len(sys.argv) > 2 else sys.prefix)
