"""The undecorated trading bot that ``auto_bot.py`` runs: nothing here imports tradetel."""
