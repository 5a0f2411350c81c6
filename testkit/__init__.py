"""What the tests and the benchmarks share: real processes on 127.0.0.1 (``processes``), a stand-in
for Slack's Web API (``slack_standin``), the standard names.txt split (``names``) and the simulated
team that votes (``simulated_team``). Nothing here is imported by the service itself."""
