"""What ships: the image, the chart, the alerts; kubernetes/ runs them on a real API server."""
