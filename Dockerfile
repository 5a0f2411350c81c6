FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -e . && tnaas train
ENV TNAAS_HOST=0.0.0.0
CMD ["tnaas", "web"]
