"""Where the day's post goes: `outbox` (offline default), `instagram` or `email`.

Each publisher splits posting into `start` (prepare; nothing is public yet) and `finish` (make
it public), and can `reconcile` an attempt that stopped half-way; `exactly_once` drives them.
"""

from __future__ import annotations

import contextlib
import io
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from glimpse_assets.llm.guardrails import redact
from glimpse_assets.publish.caption import INSTAGRAM_CAPTION_LIMIT, INSTAGRAM_MAX_HASHTAGS
from glimpse_assets.publish.gallery import gallery_page
from glimpse_assets.publish.settings import PublishSettings
from glimpse_assets.settings import setting
from glimpse_assets.storage.exactly_once import (  # the ledger's errors, raised by publishers
    NothingSentError,
    PublishError,
    PublishRejectedError,
    RefusedBeforeSendingError,
)
from glimpse_assets.storage.object_store import ObjectStore, S3ObjectStore
from glimpse_assets.storage.resource import ObjectStoreResource

if TYPE_CHECKING:
    import ssl
    from email.message import EmailMessage


def _one_line(error: BaseException | str) -> str:
    return " ".join(str(error).split())


@dataclass(frozen=True)
class Post:
    """The day's post. `caption` is what Instagram, e-mail and the outbox send (`caption_text`,
    its sources and hashtags: `caption.build_caption`); `caption_text` is the one or two
    sentences written for readers, `sources` the stories it was written from ({title, url});
    `prompt` is the image prompt, kept apart: it is not part of any caption."""

    day: str
    caption: str
    png: bytes
    title: str
    prompt: str
    headlines: list[dict[str, str | None]] = field(default_factory=list)
    caption_text: str = ""
    sources: list[dict[str, str | None]] = field(default_factory=list)


class Publisher(dg.ConfigurableResource, ABC):
    object_store: ObjectStoreResource

    @property
    @abstractmethod
    def kind(self) -> str: ...

    def store(self) -> ObjectStore:
        return self.object_store.store

    def validate(self, post: Post) -> None:
        """Raise before any outside call when the post cannot go out as it is."""

    @abstractmethod
    def start(self, post: Post) -> dict[str, Any]: ...

    @abstractmethod
    def finish(self, post: Post, state: dict[str, Any]) -> dict[str, Any]: ...

    @abstractmethod
    def reconcile(self, state: dict[str, Any]) -> str:
        """ "published", "ready" (finish this attempt), "restart" or "unknown"."""


# -- outbox: offline ------------------------------------------------------------------------

OUTBOX_PREFIX = "outbox"
GALLERY_KEY = "gallery/index.html"


class OutboxPublisher(Publisher):
    """Writes the post into storage and regenerates a static gallery of the recent days."""

    gallery_days: int = Field(default=14, ge=1)

    @property
    def kind(self) -> str:
        return "outbox"

    def start(self, post: Post) -> dict[str, Any]:
        return {}

    def finish(self, post: Post, state: dict[str, Any]) -> dict[str, Any]:
        store = self.store()
        folder = f"{OUTBOX_PREFIX}/{post.day}"
        store.put(f"{folder}/image.png", post.png, "image/png")
        record = {
            "day": post.day,
            "caption": post.caption,
            "caption_text": post.caption_text or post.caption,
            "sources": post.sources,
            "title": post.title,
            "prompt": post.prompt,
            "headlines": post.headlines,
            "image": "image.png",
        }
        outbox = self.object_store.records(OUTBOX_PREFIX)
        outbox.put(f"{post.day}/post", record)
        store.put(GALLERY_KEY, self.gallery().encode("utf-8"), "text/html")
        return {"post": outbox.uri(f"{post.day}/post"), "gallery": store.uri(GALLERY_KEY)}

    def gallery(self) -> str:
        outbox = self.object_store.records(OUTBOX_PREFIX)
        days = sorted(
            {name.split("/")[0] for name in outbox.names() if name.endswith("/post")},
            reverse=True,
        )[: self.gallery_days]
        posts = []
        for day in days:
            post = outbox.get(f"{day}/post") or {}
            posts.append({**post, "image": f"../{OUTBOX_PREFIX}/{day}/{post['image']}"})
        return gallery_page(posts)

    def reconcile(self, state: dict[str, Any]) -> str:
        return "ready"  # writing the same objects again is harmless


# -- instagram: the Graph API content-publishing flow ------------------------------------------

INSTAGRAM_MAX_JPEG_BYTES = 8 * 1024 * 1024
RATE_LIMIT_CODES = {4, 17, 32, 613}


def jpeg_bytes(png: bytes, quality: int = 90) -> bytes:
    """Instagram takes JPEG only."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=quality)
        return buffer.getvalue()


class InstagramPublisher(Publisher):
    """Container with image_url and caption -> poll until FINISHED -> media_publish."""

    access_token: str | None = setting(PublishSettings, "instagram_access_token_set")
    user_id: str = setting(PublishSettings, "instagram_user_id", required=True)
    graph_url: str = setting(PublishSettings, "instagram_graph_api_url")
    public_base_url: str | None = setting(PublishSettings, "public_base_url")
    poll_seconds: float = Field(default=3.0, ge=0)
    max_polls: int = Field(default=40, ge=1)
    timeout_seconds: float = Field(default=30.0, gt=0)

    @property
    def kind(self) -> str:
        return "instagram"

    def validate(self, post: Post) -> None:
        missing = [
            name
            for name, value in (
                ("INSTAGRAM_ACCESS_TOKEN", self.access_token),
                ("INSTAGRAM_USER_ID", self.user_id),
            )
            if not value
        ]
        if missing:
            raise PublishRejectedError(f"the instagram publisher needs {', '.join(missing)}")
        if len(post.caption) > INSTAGRAM_CAPTION_LIMIT:
            raise PublishRejectedError(
                f"the caption has {len(post.caption)} characters; Instagram takes at most "
                f"{INSTAGRAM_CAPTION_LIMIT}"
            )
        if post.caption.count("#") > INSTAGRAM_MAX_HASHTAGS:
            raise PublishRejectedError(f"Instagram takes at most {INSTAGRAM_MAX_HASHTAGS} hashtags")
        if len(jpeg_bytes(post.png)) > INSTAGRAM_MAX_JPEG_BYTES:
            raise PublishRejectedError(
                f"the image is larger than Instagram's {INSTAGRAM_MAX_JPEG_BYTES // 2**20} MB limit"
            )
        if not self.public_base_url and not isinstance(self.store(), S3ObjectStore):
            raise PublishRejectedError(
                "Instagram fetches the image from a URL: use s3:// storage (a presigned URL is "
                "made) or set GLIMPSE_PUBLIC_BASE_URL to where the storage folder is served"
            )

    def _image_url(self, post: Post) -> str:
        store = self.store()
        key = f"publish/instagram/{post.day}.jpg"
        store.put(key, jpeg_bytes(post.png), "image/jpeg")
        if self.public_base_url:
            return f"{self.public_base_url.rstrip('/')}/{key}"
        return store.presigned_url(key)

    def _call(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        import requests

        from glimpse_assets.http import retrying_session

        url = f"{self.graph_url.rstrip('/')}/{path}"
        with retrying_session(max_retries=3, backoff_seconds=1.0) as session:
            # The token goes in a header, never in a URL that could reach a log or an error.
            session.headers["Authorization"] = f"Bearer {self.access_token}"
            try:
                response = session.request(method, url, params=params, timeout=self.timeout_seconds)
            except requests.RequestException as error:
                raise PublishError(
                    redact(f"Instagram Graph API unreachable: {error}", [self.access_token])
                ) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200 and "error" not in body:
            return body
        error = body.get("error") or {}
        code = error.get("code")
        message = redact(
            f"Instagram Graph API {path.split('/')[-1] or path}: HTTP {response.status_code}, "
            f"code {code}: {error.get('message') or response.text[:200]}",
            [self.access_token],
        )
        if code == 190:
            raise PublishRejectedError(f"{message} (INSTAGRAM_ACCESS_TOKEN expired or invalid)")
        if code in RATE_LIMIT_CODES or response.status_code == 429 or response.status_code >= 500:
            raise PublishError(message)  # worth trying again later: Dagster's retry policy
        raise PublishRejectedError(message)

    def start(self, post: Post) -> dict[str, Any]:
        created = self._call(
            "POST", f"{self.user_id}/media", image_url=self._image_url(post), caption=post.caption
        )
        return {"container_id": created["id"]}

    def _status(self, container_id: str) -> str:
        return str(self._call("GET", container_id, fields="status_code").get("status_code"))

    def finish(self, post: Post, state: dict[str, Any]) -> dict[str, Any]:
        container = state["container_id"]
        for _ in range(self.max_polls):
            status = self._status(container)
            if status == "FINISHED":
                break
            if status in {"ERROR", "EXPIRED"}:
                raise PublishRejectedError(f"Instagram media container {container} is {status}")
            time.sleep(self.poll_seconds)
        else:
            raise PublishError(f"Instagram media container {container} not ready after polling")
        published = self._call("POST", f"{self.user_id}/media_publish", creation_id=container)
        return {"media_id": published["id"], "container_id": container}

    def reconcile(self, state: dict[str, Any]) -> str:
        container = state.get("container_id")
        if not container:
            return "restart"  # stopped before a container existed: nothing can be public
        status = self._status(container)
        if status == "PUBLISHED":
            return "published"
        return "ready" if status in {"FINISHED", "IN_PROGRESS"} else "restart"


# -- email: SMTP ----------------------------------------------------------------------------


class EmailPublisher(Publisher):
    """The title as subject, the caption (its text, source link and hashtags) as the body,
    the picture attached."""

    host: str = setting(PublishSettings, "smtp_host", required=True)
    port: int = setting(PublishSettings, "smtp_port")
    starttls: bool = setting(PublishSettings, "smtp_starttls", default=True)
    username: str | None = setting(PublishSettings, "smtp_username")
    password: str | None = setting(PublishSettings, "smtp_password_set")
    # The certificate is verified either way.
    ca_file: str | None = setting(PublishSettings, "smtp_ca_file")
    sender: str = setting(PublishSettings, "email_from", required=True)
    recipients: list[str] = setting(PublishSettings, "email_to", required=True)
    timeout_seconds: float = Field(default=30.0, gt=0)

    @property
    def kind(self) -> str:
        return "email"

    def validate(self, post: Post) -> None:
        if not self.host or not self.sender or not self.recipients:
            raise PublishRejectedError(
                "the email publisher needs GLIMPSE_SMTP_HOST, GLIMPSE_EMAIL_FROM and "
                "GLIMPSE_EMAIL_TO"
            )
        if self.starttls:
            self.tls_context()  # an unreadable GLIMPSE_SMTP_CA_FILE fails here, before the claim
        elif self.username:
            raise PublishRejectedError(
                "GLIMPSE_SMTP_USERNAME is set but GLIMPSE_SMTP_STARTTLS=false: the password "
                "would cross the network unencrypted; turn STARTTLS on"
            )

    def message(self, post: Post) -> EmailMessage:
        from email.message import EmailMessage

        message = EmailMessage()
        message["Subject"] = f"Glimpse for {post.day}: {post.title}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(f"{post.caption}\n")
        message.add_attachment(
            post.png, maintype="image", subtype="png", filename=f"glimpse-{post.day}.png"
        )
        return message

    def start(self, post: Post) -> dict[str, Any]:
        return {}

    def tls_context(self) -> ssl.SSLContext:
        """Verifies the server's certificate and name: the password goes only to the real
        server. `ca_file` replaces the system's CAs (e.g. for a private CA)."""
        import ssl

        try:
            return ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as error:
            raise RefusedBeforeSendingError(
                f"GLIMPSE_SMTP_CA_FILE {self.ca_file!r} is not a readable PEM CA bundle: "
                f"{_one_line(error)}"
            ) from None

    def finish(self, post: Post, state: dict[str, Any]) -> dict[str, Any]:
        import smtplib
        import ssl

        message = self.message(post)
        secrets = [self.password or ""]
        where = f"SMTP {self.host}:{self.port}"
        context = self.tls_context() if self.starttls else None
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
        except OSError as error:
            raise NothingSentError(redact(f"{where} unreachable: {error}", secrets)) from None
        try:
            try:
                if context is not None:
                    smtp.starttls(context=context)
                if self.username:
                    smtp.login(self.username, self.password or "")
            except ssl.SSLCertVerificationError as error:
                raise RefusedBeforeSendingError(
                    f"{where}: the server's TLS certificate could not be verified "
                    f"({_one_line(error.verify_message or error)}), so nothing was sent and the "
                    "password was not used; if the server uses a private CA, set "
                    "GLIMPSE_SMTP_CA_FILE to its PEM bundle"
                ) from None
            except smtplib.SMTPAuthenticationError as error:
                raise RefusedBeforeSendingError(
                    redact(f"SMTP login refused: {_one_line(error)}", secrets)
                ) from None
            except (smtplib.SMTPException, OSError) as error:
                raise NothingSentError(redact(f"{where} failed: {error}", secrets)) from None
            try:  # from here on, the message may have gone out even if we hear an error
                refused = smtp.send_message(message)
            except (smtplib.SMTPException, OSError) as error:
                raise PublishError(
                    redact(f"{where} failed while sending: {error}", secrets)
                ) from None
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()  # the message is accepted; a lost goodbye changes nothing
        finally:
            smtp.close()  # no QUIT after a failure: the connection may be half-way into TLS
        return {"recipients": sorted(set(self.recipients) - set(refused))}

    def reconcile(self, state: dict[str, Any]) -> str:
        return "unknown"  # SMTP cannot say whether an earlier message went out
