"""uvicorn's access log without what people typed: every request's query string (a search, a
question, a filter) is replaced with `(query not logged)`, so the line keeps the method, the path
and the status. Searches and questions are personal data; no line the service writes holds one.
"""

from __future__ import annotations

import logging

HIDDEN = "(query not logged)"


class QueryStringsOutOfTheAccessLog(logging.Filter):
    """Rewrites uvicorn's access line (`<client> - "GET <path>?<query> HTTP/1.1" 200`, the path
    with its query as the third of five arguments) to hold the path alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path, question_mark, _ = args[2].partition("?")
            if question_mark:
                record.args = (args[0], args[1], f"{path}?{HIDDEN}", *args[3:])
        return True


QUERIES_HIDDEN = QueryStringsOutOfTheAccessLog()


def hide_query_strings() -> None:
    """Once per process, however many apps are made (`addFilter` keeps one of each)."""
    logging.getLogger("uvicorn.access").addFilter(QUERIES_HIDDEN)
