import atexit
import os
import shutil
import tempfile

# Exercise checks record progress; tests must not touch the learner's own file.
# Kernels started by nbval and by the notebook tests inherit this environment.
# One folder per pytest process (each xdist worker has its own), removed when that process ends.
_progress_dir = tempfile.mkdtemp(prefix="coursekit-test-progress-")
atexit.register(shutil.rmtree, _progress_dir, True)
os.environ["COURSEKIT_PROGRESS_FILE"] = os.path.join(_progress_dir, "progress.json")
