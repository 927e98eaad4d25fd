"""Statistics (computed in SQL) and the reports made from them: catalogue, rendering, schedules."""
