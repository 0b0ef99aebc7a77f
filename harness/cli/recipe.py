"""``sparsebench recipe``: search the choices a write-up leaves unstated for a recipe
that reproduces its numbers (recipe/search.py has the design); with ``--update`` write the
search into the tier's committed reference."""

from __future__ import annotations

import argparse

from ..errors import SparsebenchError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("recipe", help="search the write-up's unstated choices for a recipe "
                                      "that reproduces its numbers; judge the closest")
    p.add_argument("--suite", action="append", metavar="NAME_OR_PATH", required=True,
                   help="the suite (a name under suites/ or a path to a suite folder)")
    p.add_argument("--tier", help="the tier searched from (default: the suite's reference "
                                  "tier); its committed reference gives the seeds' spread")
    p.add_argument("--budget", default="60m",
                   help="wall time for the trials, e.g. 60m (default: %(default)s); the "
                        "closest recipes' re-runs come after")
    p.add_argument("--update", action="store_true",
                   help="write the search into suites/<name>/expected/<tier>.json")
    return p


def cmd_recipe(args: argparse.Namespace, runner_for, update_command) -> int:
    from ..recipe import run as recipe_run
    from ..refs import reference
    from ..refs import regress as regress_mod
    from ..run.runner import store_lock
    from ..run.store import Store
    from ..settle.design import budget_seconds
    from ..spec.plan import resolve
    from ..spec.suite import load_suites

    if len(args.suite) != 1:
        raise SparsebenchError("recipe: give one --suite")
    try:
        budget = budget_seconds(args.budget)
    except ValueError as err:
        raise SparsebenchError(str(err)) from None
    suite = load_suites(args.suite)[0]
    if suite.spec.recipe is None:
        raise SparsebenchError(f"{suite.folder / 'suite.toml'}: no [recipe] section: declare "
                               "the open choices to search (docs/recipe-search.md)")
    tier = args.tier or suite.spec.reference or suite.spec.default_tier
    plan = resolve(suite, tier)
    command = update_command(plan)
    ref = reference.extendable(suite, tier, command, "search from")
    line = (f"sparsebench recipe --suite {suite.cli_name} --tier {tier} "
            f"--budget {args.budget}")
    with store_lock(args.store), Store(args.store) as store:
        reader = runner_for(args, store, execute=False)
        if len(reader.run(plan).records) < plan.cell_count()[0]:
            reference.fill(store, ref, suite)
        runner = runner_for(args, store)
        try:
            search = recipe_run.run(plan, runner, reader, line, budget,
                                    lambda text: print(f"{suite.name}: {text}", flush=True))
        except ValueError as err:
            raise SparsebenchError(f"{suite.name}: {err}") from None
        finally:
            runner.executor.close()
        result = reader.run(plan)
        from ..recipe.report_section import build
        section = build(plan, search, result.recipe_records)
        print(f"{suite.name}: {len(search.trials)} recipes tried in "
              f"{search.wall_s / 60:.1f} min; {section.conclusion}")
        if args.update:
            path = reference.path_for(suite, tier)
            made = reference.make(result, command)
            regress_mod.write(made, path)
            print(f"{suite.name}: wrote {path} ({len(result.recipe_records)} recipe cells)")
    return 0
