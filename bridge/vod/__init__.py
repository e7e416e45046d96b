"""The platform's video API: request signing (`signer`) and GetVideoList (`api`)."""
