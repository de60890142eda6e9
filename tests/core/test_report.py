"""Results files: cells a spreadsheet would run are defused."""

import pytest
from resnet_studio.core import report
from resnet_studio.core.engine import Prediction, Result


def test_csv_cells_that_a_spreadsheet_would_run_are_defused(tmp_path):
    hostile = Result("=cmd|' /C calc'!A0.png", "m", "w", "CPUExecutionProvider", precision="fp32",
                     predictions=[Prediction(0, "+SUM(A1)", 0.75), Prediction(1, "@x", 0.25)])
    target = tmp_path / "r.csv"
    report.write(target, [hostile])
    text = target.read_text()
    assert "'=cmd" in text and "'+SUM" in text and "'@x" in text
    assert report.read(target) == [report.record(hostile)]
    with pytest.raises(report.ReportError, match="choose a .csv or .json"):
        report.write(tmp_path / "r.txt", [hostile])

