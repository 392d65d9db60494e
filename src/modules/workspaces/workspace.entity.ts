import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export const APP_CREATION_POLICIES = ['admins', 'admins_and_developers'] as const;
export type AppCreationPolicy = (typeof APP_CREATION_POLICIES)[number];

@Entity('workspaces')
export class Workspace {
  @PrimaryColumn('uuid')
  id!: string;

  /** URL-safe unique name, e.g. `default`. */
  @Column({ type: 'varchar', length: 63, unique: true })
  slug!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  /** Who may create OAuth Apps and regenerate their secrets here (seed 000). */
  @Column({
    name: 'app_creation',
    type: 'enum',
    enum: APP_CREATION_POLICIES,
    enumName: 'app_creation',
    default: 'admins_and_developers',
  })
  appCreation!: AppCreationPolicy;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
