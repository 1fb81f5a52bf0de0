"""Errors the `lessons` command turns into one line and exit code 2."""


class LessonError(Exception):
    """A user-facing failure: the message says what to do. The CLI prints it without a traceback."""


class DataError(LessonError):
    """Data that is missing, unreachable or corrupt (and was not used)."""


class DivergenceError(LessonError):
    """The training loss became NaN or infinite."""

    def __init__(self, lesson: str, framework: str, step: int, loss: float):
        super().__init__(
            f"{lesson} ({framework}) diverged: loss became {loss} at step {step}; "
            "lower the learning rate or check the data"
        )
