# syntax=docker/dockerfile:1
# Build stage: install everything and build the static web app.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# The image's npm 10 ignores package.json's allowScripts: skip onnxruntime-node's CUDA download here.
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# Runtime stage: production dependencies, the sources the CLI runs, and the built app.
FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 LOOKALIKE_ALLOWED_HOSTS=localhost PORT=5000 LOOKALIKE_DATA_DIR=/data LOOKALIKE_IMAGE_ROOTS=/images
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY models ./models
COPY server ./server
COPY core ./core
COPY --from=build /app/build ./build
RUN mkdir -p /data /images && chown node:node /data /images
USER node
VOLUME ["/data"]
EXPOSE 5000
# serve downloads the real model on first start (kept in /data, progress on the page); offline it
# says how to get one and falls back to the synthetic model loudly.
CMD ["node", "bin/lookalike.js", "serve"]
