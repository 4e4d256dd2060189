"""ServedRows: what a read of a changesSince list served and emitted, without keeping every key in memory.

The sandbox tests (test_concurrent_changes, reliability) drive it through real paging; these pin the
cases one by one, with page size 3 so a window holds 3 to 6 keys.
"""

from __future__ import annotations

import tracemalloc

from tap_dinero.served import ServedRows

OLD = "2020-01-01T00:00:00.000|None"
NEW = "2099-01-01T00:00:00.000|None"


def _read(served: ServedRows, rows: list[tuple[str, str, bool]], *, deleted: bool = False) -> list[str]:
    """Serve ``(key, stamp, recent)`` rows in one pass; the keys to emit."""
    served.start_pass(deleted=deleted)
    return [key for key, stamp, recent in rows if served.serve(key, stamp, recent=recent)]


def _old(*keys: str) -> list[tuple[str, str, bool]]:
    return [(key, OLD, False) for key in keys]


def test_a_settled_read_emits_every_row_once() -> None:
    with ServedRows(page_size=3) as served:
        served.start_read(1)
        assert _read(served, [*_old(*"abcdefgh"), ("z", NEW, True)]) == [*"abcdefgh", "z"]
        assert served.finish_read() is False


def test_rows_shifted_forward_are_emitted_once_and_the_list_is_read_again() -> None:
    with ServedRows(page_size=3) as served:
        served.start_read(1)
        # a row inserted ahead of the read position: "c" (end of page 0) comes again on page 1
        assert _read(served, _old("a", "b", "c", "c", "d", "e")) == ["a", "b", "c", "d", "e"]
        assert served.finish_read() is True


def test_a_row_moved_far_back_by_an_update_is_seen_although_its_first_copy_left_the_window() -> None:
    with ServedRows(page_size=3) as served:
        served.start_read(1)
        rows = [*_old("a", "b", "c", "e", "f", "g", "h", "i", "j"), ("a", NEW, True)]  # "d" slipped past
        assert _read(served, rows) == [*"abcefghij", "a"]  # the new version of "a" is a new record
        assert served.finish_read() is True

        served.start_read(2)  # the re-read emits what was missed, and nothing twice
        assert _read(served, [*_old(*"bcdefghij"), ("a", NEW, True)]) == ["d"]
        assert served.finish_read() is False


def test_a_row_served_live_then_deleted_during_the_read_means_the_list_moved() -> None:
    deleted = "2099-01-01T00:00:00.000|2099-01-01T00:00:00.000"
    with ServedRows(page_size=3) as served:
        served.start_read(1)
        assert _read(served, _old(*"abcdefg")) == list("abcdefg")
        assert _read(served, [("b", deleted, True)], deleted=True) == ["b"]
        assert served.finish_read() is True

        served.start_read(2)
        assert _read(served, _old("a", *"cdefgh")) == ["h"]  # "h" had slipped past a page boundary
        assert _read(served, [("b", deleted, True)], deleted=True) == []
        assert served.finish_read() is False


def test_rows_deleted_before_the_run_do_not_disturb_the_read() -> None:
    deleted = "2020-01-01T00:00:00.000|2020-02-01T00:00:00.000"
    with ServedRows(page_size=3) as served:
        served.start_read(1)
        assert _read(served, _old(*"abcd")) == list("abcd")
        assert _read(served, [("x", deleted, False), ("y", deleted, False)], deleted=True) == ["x", "y"]
        assert served.finish_read() is False


def test_unwanted_rows_are_not_emitted_but_count_as_served() -> None:
    with ServedRows(page_size=3) as served:
        served.start_read(1)
        served.start_pass(deleted=False)
        assert served.serve("a", NEW, recent=True, wanted=False) is False
        assert served.serve("b", OLD, recent=False) is True
        assert served.serve("a", NEW, recent=True, wanted=False) is False
        assert served.finish_read() is True  # "a" was served twice


def test_a_list_that_keeps_moving_keeps_being_reported() -> None:
    with ServedRows(page_size=3) as served:
        for attempt in (1, 2, 3):
            served.start_read(attempt)
            _read(served, _old("a", "b", "c", "c", "d"))
            assert served.finish_read() is True


def test_memory_does_not_grow_with_the_number_of_rows() -> None:
    def peak(rows: int) -> int:
        tracemalloc.start()
        try:
            with ServedRows(page_size=100) as served:
                served.start_read(1)
                served.start_pass(deleted=False)
                for i in range(rows):
                    served.serve(f"{i:036d}", OLD, recent=False)
                served.finish_read()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(2_000), peak(40_000)
    assert large < small + 64 * 1024, (small, large)
