"""The service's own notes in a request's history, as the pages say them."""

from __future__ import annotations

from service.web.history_notes import history_note

LOAN = "0b7f0c1e-5d0e-4a43-9a39-9a1f3a5a2c11"
PREPAYMENT = "6c3f1d2e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
REFS = {LOAN: "PRE-2026-0007", PREPAYMENT: "PRF-2026-0003"}


def test_the_service_notes_are_said_in_italian() -> None:
    assert history_note("funded on 2026-03-10", REFS) == "finanziata il 10/03/2026"
    assert history_note(f"closed automatically: loan {LOAN} repaid (recorded by anna)",
                        REFS) == ("chiusa automaticamente: prestito PRE-2026-0007 "
                                  "rimborsato (registrato da anna)")
    assert history_note(f"closed automatically: loan {LOAN} repaid", {}) == (
        f"chiusa automaticamente: prestito {LOAN} rimborsato")
    assert history_note(f"closed automatically: prepayment {PREPAYMENT} closed", REFS) == (
        "chiusa automaticamente: prefinanziamento PRF-2026-0003 chiuso")
    assert history_note(f"reopened: loan {LOAN} owes again after the correction {LOAN}",
                        REFS) == ("riaperta: il prestito PRE-2026-0007 torna a dovere "
                                  "dopo una correzione")


def test_people_notes_stay_as_written() -> None:
    for note in ("manca il preventivo della cella", "funded on the 10th, by phone",
                 "", None):
        assert history_note(note, REFS) == note
