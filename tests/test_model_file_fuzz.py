"""Byte-flip fuzz of a saved model file, CI size (issue 18).

``tools/fuzz_model_files.py`` loads every truncation, every single-byte and
every single-bit flip of a small model's archive (and every byte of every
entry flipped inside a well-formed archive), in a child process whose
address space is limited: the only outcomes allowed are a loaded model,
`ValueError` and `OSError` -- never a crash, a hang, `MemoryError` or any
other exception. ``tools/fuzz_model_files.py --model conv --bits --repacked``
is the run at length.
"""
import json
import os
import subprocess
import sys

import pyconv

TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                    "fuzz_model_files.py")


def test_every_truncation_byte_and_bit_flip_of_a_small_model_is_a_value_error(tmp_path):
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(pyconv.__file__)))
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [package_parent,
                                                        os.environ.get("PYTHONPATH")])))
    log = tmp_path / "cases.log"
    result = subprocess.run([sys.executable, TOOL, "--bits", "--repacked", "--json",
                             "--memory-mb", "1024", "--timeout", "60", "--log", str(log)],
                            capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    last_case = log.read_text().splitlines()[-1:] if log.exists() else []
    assert result.returncode in (0, 1), (
        f"the fuzz process died (return code {result.returncode}; -14 is a hang) at "
        f"{last_case}\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"\n[model file fuzz] {report['files']} files of a {report['archive_bytes']}-byte "
          f"archive in {report['seconds']} s: {report['outcomes']}")
    assert not report["failures"], "\n".join(report["failures"][:20])
    size = report["archive_bytes"]
    assert report["files"] >= 10 * size            # truncations, byte and 8 bit flips
    assert set(report["outcomes"]) <= {"loaded", "ValueError", "OSError"}
    assert report["outcomes"]["ValueError"] > 0.8 * report["files"]
