"""Act-On's error answers, as the sandbox sends them (bodies copied from Act-On's documentation)."""

from __future__ import annotations


class ActonError(Exception):
    """An answer Act-On gives instead of data: an HTTP status and its JSON body."""

    def __init__(self, status: int, body: dict[str, object]) -> None:
        super().__init__(str(body.get("message") or body))
        self.status = status
        self.body = body


def invalid_list() -> ActonError:
    return ActonError(400, {"errorCode": 10004, "message": "Invalid or missing list"})


def invalid_contact() -> ActonError:
    return ActonError(400, {"errorCode": 10008, "message": "Invalid contact"})


def invalid_column() -> ActonError:
    # Act-On sends this errorCode as a string, unlike the others.
    return ActonError(400, {"errorCode": "10010", "message": "Invalid Column Specified"})


def bad_request(message: str) -> ActonError:
    return ActonError(400, {"errorCode": 90004, "message": message})


def unauthorized() -> ActonError:
    return ActonError(
        401, {"httpCode": "401", "httpMessage": "Unauthorized", "moreInformation": ""}
    )


def not_found() -> ActonError:
    return ActonError(
        404,
        {
            "httpCode": "404",
            "httpMessage": "Not Found",
            "moreInformation": "No resources match requested URI",
        },
    )


def rate_limited() -> ActonError:
    return ActonError(
        429,
        {
            "httpCode": "429",
            "httpMessage": "Too Many Requests",
            "moreInformation": "Rate Limit exceeded",
        },
    )


def server_error(status: int) -> ActonError:
    return ActonError(
        status, {"httpCode": str(status), "httpMessage": "Server Error", "moreInformation": ""}
    )
