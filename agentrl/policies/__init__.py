"""Acting: language-model, grid-network, API and scripted policies (learning lives in ``train``)."""
