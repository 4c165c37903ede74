"""Novel class discovery: labeled data of the known classes, then one unlabeled set of the novel classes."""

from __future__ import annotations

from pydantic import Field

from harness.api.dataset import Dataset
from harness.api.errors import ConfigError
from harness.api.registry import SCENARIOS
from harness.api.scenario import OrderParams, Scenario, ScenarioPlan, StepPlan, check_class_order, class_order, indices_of_classes


class NCDParams(OrderParams):
    known_classes: int | None = Field(None, ge=1, description="labeled classes of step 0; default: half of the classes (rounded down)")
    novel_classes: int | None = Field(None, ge=1, description="classes of the unlabeled step; default: all the others")
    estimate_num_novel: bool = Field(False, description="hide the number of novel classes: the strategy must estimate it")


def split_sizes(params: NCDParams, total: int) -> tuple[int, int]:
    known = params.known_classes if params.known_classes is not None else total // 2
    if not 1 <= known < total:
        raise ConfigError("known_classes", f"must leave at least one of the {total} classes novel; got {known}")
    novel = params.novel_classes if params.novel_classes is not None else total - known
    if known + novel > total:
        raise ConfigError("novel_classes", f"known {known} + novel {novel} exceeds the {total} classes of the dataset")
    return known, novel


@SCENARIOS.register("ncd")
class NovelClassDiscovery(Scenario):
    """Novel class discovery: the labeled known classes, then one unlabeled set of novel classes.

    Step 0: every training sample of ``known_classes`` classes, labeled.  Step 1: every training
    sample of ``novel_classes`` other classes, unlabeled; the strategy is told how many novel classes
    there are unless ``estimate_num_novel``.  Evaluation after each step on the test samples of the
    classes seen so far; classes of neither step are open-set classes throughout.
    """

    Params = NCDParams

    def check(self, params: NCDParams, dataset: Dataset) -> None:
        check_class_order(params, dataset)
        split_sizes(params, dataset.num_classes)

    def plan(self, params: NCDParams, dataset: Dataset, seed: int) -> ScenarioPlan:
        order = class_order(params, dataset.num_classes, seed)
        known, novel = split_sizes(params, dataset.num_classes)
        labels = dataset.train_y.numpy()
        known_ids, novel_ids = list(range(known)), list(range(known, known + novel))
        steps = (
            StepPlan(indices_of_classes(labels, [order[i] for i in known_ids]), tuple(known_ids)),
            StepPlan(indices_of_classes(labels, [order[i] for i in novel_ids]), tuple(novel_ids), labeled=False),
        )
        return ScenarioPlan("ncd", order, steps, num_new_given=not params.estimate_num_novel)
