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

from _support import run_python

TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                    "fuzz_model_files.py")


def test_every_truncation_byte_and_bit_flip_of_a_small_model_is_a_value_error(tmp_path):
    log = tmp_path / "cases.log"
    result = run_python("import runpy, sys; sys.argv = sys.argv[1:]; "
                        "runpy.run_path(sys.argv[0], run_name='__main__')",
                        TOOL, "--bits", "--repacked", "--json", "--memory-mb", 1024,
                        "--timeout", 60, "--log", log, timeout=900,
                        env={"OMP_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1})
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
