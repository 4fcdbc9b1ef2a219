"""Asset checks for the publish lineage: the quality of the day's post caption."""

import dagster as dg

from glimpse_assets.asset_defaults import daily_asset_check
from glimpse_assets.domains import checks_job
from glimpse_assets.news.assets import news_digest
from glimpse_assets.publish.assets import social_post
from glimpse_assets.ranges import check_each_day
from glimpse_assets.skipped_checks import NothingToCheck


@daily_asset_check(
    asset=social_post, additional_ins={"news_digest": dg.AssetIn(key=news_digest.key)}
)
def social_post_caption_is_readable(
    context: dg.AssetCheckExecutionContext, social_post, news_digest
) -> dg.AssetCheckResult | NothingToCheck:
    """Caption quality, measured daily: the MiniLM cosine similarity of the caption written for
    readers and the digest's main story (headline and lead), wanted >= 0.5, and no image-prompt
    wording ("Visual motifs", "Style:"). A warning otherwise; skipped for a post stored without
    a reader's caption."""
    from glimpse_assets.publish.quality import caption_check

    return check_each_day(context, caption_check, social_post=social_post, news_digest=news_digest)


# Quality measured daily (glimpse_assets/quality).
publish_quality_checks = [social_post_caption_is_readable]
# `make checks` re-runs them on what is stored (social_post itself runs in news_job).
publish_checks_job = checks_job("publish", [social_post])
