"""The shipped password hash: Argon2id at argon2-cffi's default cost (the suite's own process
hashes at the lowest cost for speed, tests/conftest.py; a fresh process has the shipped one)."""
from __future__ import annotations

import subprocess
import sys

from argon2 import PasswordHasher

from servers import ROOT

CODE = """
from annotator.security import check_password, hash_password
stored = hash_password("correct horse")
assert check_password(stored, "correct horse") and not check_password(stored, "wrong")
print(stored)
"""


def test_a_server_process_hashes_passwords_at_the_default_argon2_cost():
    result = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    default = PasswordHasher()
    assert result.stdout.startswith(
        f"$argon2id$v=19$m={default.memory_cost},t={default.time_cost},p={default.parallelism}$")
    assert default.memory_cost >= 65536 and default.time_cost >= 3  # argon2-cffi's RFC 9106 low-memory profile
