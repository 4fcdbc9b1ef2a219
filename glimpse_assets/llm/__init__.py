"""The one layer every paid provider call goes through: cache, cost, budget, concurrency."""
