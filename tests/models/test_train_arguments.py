"""train's numeric arguments: out of range is one line."""

import pytest


@pytest.mark.parametrize("args", [["--batch-size", "0"], ["--image-size", "0"], ["--val-fraction", "1"],
                                  ["--eval-every", "0"], ["--threads", "0"], ["--lr", "nan"]])
def test_train_numbers_are_validated(args, capsys):
    from resnet_studio.models.train import main

    with pytest.raises(SystemExit) as stop:
        main(["resnet20", *args])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "is outside" in err and len(err.strip().splitlines()) == 1

