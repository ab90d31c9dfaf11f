"""Who writes the commits when nobody says: the GitHub Actions bot, as GitHub spells it."""

BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
