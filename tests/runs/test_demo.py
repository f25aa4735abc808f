"""The demo as a library call: its report in Markdown and as the page, with or without MNIST."""

from __future__ import annotations

import numpy as np

from jaxopt_lab.data import MnistNotFoundError
from jaxopt_lab.report.document import Image, Interactive, Paragraph, Section
from jaxopt_lab.runs import demo
from jaxopt_lab.two_d import TUTORIAL_LEARNING_RATES


def test_without_mnist_the_page_still_holds_the_explorer(tmp_path):
    def no_data():
        raise MnistNotFoundError("no MNIST here")

    result = demo.run_demo(tmp_path, demo.tutorial_config(iterations=10), no_data)
    assert result.run is None and result.missing_data == "no MNIST here"
    assert [path.name for path in result.files] == ["report.md", "report.html"]
    two_d, mnist = result.report.sections
    explorer_view = next(b for b in two_d.blocks if isinstance(b, Interactive))
    assert explorer_view.static == Image(demo.TRAJECTORIES, "trajectories")
    data = explorer_view.data
    assert [o["label"] for o in data["optimizers"]] == ["sgd", "momentum", "adagrad", "adam"]
    assert [p["name"] for p in data["problems"]] == [
        "bowl",
        "plateau",
        "rastrigin",
        "rosenbrock",
        "saddle",
    ]
    assert data["trajectories"].shape == (5, 4, 204, 31, 2)
    for opt in data["optimizers"]:  # each opens at the tutorial's figure rate
        rate = data["learning_rates"][opt["preset"]]
        assert rate == np.float32(TUTORIAL_LEARNING_RATES[opt["label"]])
    assert "MNIST was not found" in mnist.blocks[0].text
    page = (tmp_path / "report.html").read_text()
    assert 'data-view="two_d"' in page and "no MNIST here" in page
    assert "two_d/trajectories.png" in (tmp_path / "report.md").read_text()


def test_with_explorer_replaces_only_the_trajectories_figure():
    class Stub:
        def view(self, static):
            return Interactive("two_d", {}, "explorer", static)

    section = Section("2-D", [Image(demo.TRAJECTORIES, "t"), Image("two_d/sweep.png", "s"),
                              Paragraph("p")])  # fmt: skip
    replaced = demo.with_explorer(section, Stub())
    assert [type(b).__name__ for b in replaced.blocks] == ["Interactive", "Image", "Paragraph"]
    assert replaced.blocks[0].static == section.blocks[0]
    assert demo.with_explorer(section, None) is section
