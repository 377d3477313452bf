import { Hono } from 'hono';
import type { Runtime } from '../../runtime';

export function healthRoutes({ model }: Runtime): Hono {
  return new Hono().get('/health', (c) =>
    c.json({
      status: 'ok',
      model: {
        id: model.manifest.id,
        name: model.manifest.name,
        dimension: model.manifest.dimension,
        synthetic: model.manifest.synthetic,
        source: model.source,
        ...(model.warning ? { warning: model.warning } : {})
      }
    })
  );
}
