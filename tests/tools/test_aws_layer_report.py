"""The AWS layer's report of wall time per test group (tests/aws/conftest.py): under xdist a
group's tests can run on both workers at once, so overlapping phases are counted once."""
import importlib.util
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("aws_conftest", HERE.parents[1] / "tests" / "aws" / "conftest.py")
aws_conftest = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = aws_conftest  # its dataclass looks its module up there
spec.loader.exec_module(aws_conftest)


def test_overlapping_phases_count_once():
    # Two workers: 0-10 s and 4-12 s overlap; 20-25 s stands alone.
    assert aws_conftest.covered_seconds([(20.0, 25.0), (0.0, 10.0), (4.0, 12.0)]) == 17.0


def test_a_phase_inside_another_adds_nothing():
    assert aws_conftest.covered_seconds([(0.0, 10.0), (2.0, 3.0), (10.0, 11.0)]) == 11.0


def test_no_phases_no_time():
    assert aws_conftest.covered_seconds([]) == 0.0
