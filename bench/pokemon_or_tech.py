"""Pokemon or tech? The two-way verdict on names it never saw, beside the multi-corpus judge.

Run: ``.venv/bin/python -m bench.pokemon_or_tech`` (about a minute; no trained artifacts needed).
1. Held out by name: a fifth of Pokemon and of software names (PyPI, npm, Debian), never trained on.
2. The public quiz "Is it Pokemon or Big Data?" (pixelastic/pokemonorbigdata, its questions.json
   over time) and the talk's own examples: the verdict is refitted with every quiz name removed from
   every corpus, so a Pokemon is not right merely because it is in the Pokemon corpus.
Each at even odds (a quiz) and at ``UNKNOWN_PRIOR_TECH``, the prior the product uses for a name it does
not know. (The product answers a known name by lookup: ditto is a Pokemon because it is one.)
"""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.table import Table

from models.judge import (
    UNKNOWN_PRIOR_TECH,
    PokemonOrTech,
    corpus_dataset,
    evaluate_pokemon_or_tech,
    name_key,
    pokemon_or_tech_dataset,
    pokemon_or_tech_report,
)

QUIZ_POKEMON = [
    "feebas",
    "azurill",
    "vulpix",
    "delibird",
    "arbok",
    "horsea",
    "gorebyss",
    "aggron",
    "rayquaza",
    "jirachi",
    "spoink",
    "geodude",
    "ditto",
    "sawk",
]
QUIZ_TECH = [
    "hadoop",
    "hekaton",
    "summingbird",
    "akiban",
    "arvados",
    "seahorse",
    "tokutek",
    "adabas",
    "azkaban",
    "hive",
    "impala",
    "flink",
    "ambari",
    "arangodb",
    "debezium",
    "pangool",
    "titan",
    "geode",
    "pyspark",
]
# The talk's opening examples (onyx: the Clojure data platform; the Pokemon is spelled onix).
TALK = {"ditto": 0, "vulpix": 0, "sawk": 0, "onyx": 1, "pyspark": 1, "hadoop": 1, "flink": 1, "impala": 1}


def confusion_table(title: str, report: dict) -> Table:
    table = Table("truth \\ verdict", "pokemon", "tech", "right", title=title)
    for truth, right in (("pokemon", report["pokemon_right"]), ("tech", report["tech_right"])):
        row = report["confusion"][truth]
        table.add_row(truth, str(row["pokemon"]), str(row["tech"]), f"{right:.3f}")
    return table


def main() -> None:
    console = Console(width=140)
    quiz = {name_key(n) for n in [*QUIZ_POKEMON, *QUIZ_TECH, *TALK]}
    for prior in (0.5, UNKNOWN_PRIOR_TECH):
        held = evaluate_pokemon_or_tech(exclude=quiz, prior_tech=prior)
        console.print(
            confusion_table(
                f"held out by name ({held['names']} names), P(tech) prior {prior}: accuracy {held['accuracy']:.3f}, "
                f"balanced {held['balanced_accuracy']:.3f}, Brier {held['brier']:.3f}",
                held,
            )
        )
    X, y = pokemon_or_tech_dataset(*corpus_dataset())
    keep = [i for i, n in enumerate(X) if name_key(n) not in quiz]
    model = PokemonOrTech().fit([X[i] for i in keep], [y[i] for i in keep])
    names = QUIZ_POKEMON + QUIZ_TECH
    truth = np.array([0] * len(QUIZ_POKEMON) + [1] * len(QUIZ_TECH))
    for prior in (0.5, UNKNOWN_PRIOR_TECH):
        report = pokemon_or_tech_report(model, names, truth, prior_tech=prior)
        console.print(
            confusion_table(
                f"quiz ({len(names)} names, none in training), P(tech) prior {prior}: "
                f"accuracy {report['accuracy']:.3f}, balanced {report['balanced_accuracy']:.3f}",
                report,
            )
        )
    talk = Table(
        "name", "truth", "P(tech) even odds", f"P(tech) prior {UNKNOWN_PRIOR_TECH}", title="the talk's examples"
    )
    for prior_column in (names, list(TALK)):
        even, prior = model.predict_proba(prior_column), model.predict_proba(prior_column, UNKNOWN_PRIOR_TECH)
        for name, e, p in zip(prior_column, even, prior):
            side = TALK.get(name, int(name in QUIZ_TECH))
            mark = {True: "", False: " ✗"}
            talk.add_row(
                name,
                "tech" if side else "pokemon",
                f"{e:.2f}{mark[(e >= 0.5) == side]}",
                f"{p:.2f}{mark[(p >= 0.5) == side]}",
            )
        if prior_column is names:
            talk.add_section()
    talk.title = "quiz names, then the talk's examples (✗: wrong side)"
    console.print(talk)


if __name__ == "__main__":
    main()
