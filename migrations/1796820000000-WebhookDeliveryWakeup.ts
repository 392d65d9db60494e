import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Wakes the webhook delivery workers when deliveries are committed: a statement trigger announces
 * new rows on the change feed's channel, and PostgreSQL delivers the notification only at commit
 * (never for a rolled-back change). Whoever records events needs no code for it.
 */
export class WebhookDeliveryWakeup1796820000000 implements MigrationInterface {
  name = 'WebhookDeliveryWakeup1796820000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE FUNCTION "latchkey_webhook_deliveries_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF EXISTS (SELECT 1 FROM new_rows) THEN
           PERFORM pg_notify('latchkey_changes', '{"kind":"webhook-delivery","id":""}');
         END IF;
         RETURN NULL;
       END $$`,
    );
    await q.query(
      `CREATE TRIGGER "trg_webhook_deliveries_notify" AFTER INSERT ON "webhook_deliveries"
       REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
       EXECUTE FUNCTION "latchkey_webhook_deliveries_notify"()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER "trg_webhook_deliveries_notify" ON "webhook_deliveries"`);
    await q.query(`DROP FUNCTION "latchkey_webhook_deliveries_notify"()`);
  }
}
