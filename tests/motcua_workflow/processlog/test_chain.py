"""The hash chain, as pure functions."""

from __future__ import annotations

from motcua_workflow.processlog.chain import GENESIS, link, verify


def chain(n: int) -> list[tuple[int, str, str, dict]]:
    out, prev = [], GENESIS
    for seq in range(1, n + 1):
        payload = {"seq": seq, "action": f"a{seq}", "detail": {"note": "Nguyễn"}}
        h = link(prev, payload)
        out.append((seq, prev, h, payload))
        prev = h
    return out


class TestVerify:
    def test_an_intact_chain_is_valid(self):
        entries = chain(4)
        result = verify(entries, expected_length=4, expected_head=entries[-1][2])
        assert result.valid and result.length == 4 and not result.problems

    def test_a_modified_entry_is_detected(self):
        entries = chain(4)
        seq, prev, h, payload = entries[1]
        entries[1] = (seq, prev, h, {**payload, "action": "forged"})
        result = verify(entries, expected_length=4, expected_head=entries[-1][2])
        assert not result.valid
        assert result.problems[0]["seq"] == 2

    def test_a_deleted_entry_is_detected(self):
        entries = chain(4)
        del entries[2]
        result = verify(entries, expected_length=4, expected_head=entries[-1][2])
        assert not result.valid
        assert {p["seq"] for p in result.problems} >= {3, 4}

    def test_deleting_the_newest_entry_is_detected_against_the_head(self):
        entries = chain(4)
        head = entries[-1][2]
        result = verify(entries[:-1], expected_length=4, expected_head=head)
        assert not result.valid and result.problems[-1]["seq"] is None

    def test_a_rehashed_forgery_still_breaks_the_recorded_head(self):
        entries = chain(3)
        head = entries[-1][2]
        forged = chain(3)
        seq, prev, _, payload = forged[0]
        forged_payload = {**payload, "action": "forged"}
        rebuilt, p = [], GENESIS
        for s, _, _, pl in [(seq, prev, "", forged_payload), *forged[1:]]:
            h = link(p, pl)
            rebuilt.append((s, p, h, pl))
            p = h
        result = verify(rebuilt, expected_length=3, expected_head=head)
        assert not result.valid
