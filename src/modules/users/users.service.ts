import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, IsNull, Repository } from 'typeorm';
import { DUMMY_SECRET_HASH, hashSecret, verifySecret } from '../../common/crypto/secret-hash.js';
import type { MemberRole } from '../../common/auth/scopes.js';
import { DomainError } from '../../common/errors/domain-error.js';
import { RandomSource } from '../../common/random.js';
import { User, UserRole } from './user.entity.js';
import type { Workspace } from '../workspaces/workspace.entity.js';
import { WorkspaceMember } from './workspace-member.entity.js';

@Injectable()
export class UsersService {
  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    @InjectRepository(WorkspaceMember) private readonly members: Repository<WorkspaceMember>,
    private readonly random: RandomSource,
  ) {}

  async create(
    input: {
      email: string;
      password: string;
      role: UserRole;
      workspaceIds: string[];
      /** The role in those workspaces; by default admin for a platform admin, else developer. */
      memberRole?: MemberRole;
    },
    manager?: EntityManager,
  ): Promise<User> {
    const users = manager?.getRepository(User) ?? this.users;
    const members = manager?.getRepository(WorkspaceMember) ?? this.members;
    const email = input.email.trim().toLowerCase();
    const taken = () =>
      new DomainError('user.email_taken', 'conflict', `A user with email ${email} already exists.`);
    if (await users.existsBy({ email })) throw taken();
    let user: User;
    try {
      user = await users.save(
        users.create({
          id: this.random.uuid(),
          email,
          passwordHash: await hashSecret(input.password),
          role: input.role,
          disabledAt: null,
        }),
      );
    } catch (error) {
      // Lost a race with a concurrent creation of the same email (two invitations accepted at once).
      if ((error as { code?: string }).code === '23505') throw taken();
      throw error;
    }
    for (const workspaceId of input.workspaceIds) {
      const role = input.memberRole ?? (input.role === UserRole.Admin ? 'admin' : 'developer');
      await members.save(members.create({ workspaceId, userId: user.id, role }));
    }
    return user;
  }

  count(manager?: EntityManager): Promise<number> {
    return (manager?.getRepository(User) ?? this.users).count();
  }

  findById(id: string): Promise<User | null> {
    return this.users.findOneBy({ id, disabledAt: IsNull() });
  }

  /** The user for these credentials, or null; as slow for unknown emails as for wrong passwords. */
  async verifyLogin(email: string, password: string): Promise<User | null> {
    const user = await this.users.findOneBy({
      email: email.trim().toLowerCase(),
      disabledAt: IsNull(),
    });
    const ok = await verifySecret(password, user?.passwordHash ?? DUMMY_SECRET_HASH);
    return user && ok ? user : null;
  }

  /**
   * Stores a new password hash; false (and nothing written) when it is the password the user already
   * has. Callers go through SessionsService.changePassword, which also ends the user's other sessions.
   */
  async setPassword(userId: string, password: string, manager?: EntityManager): Promise<boolean> {
    const users = manager?.getRepository(User) ?? this.users;
    const user = await users.findOneBy({ id: userId });
    if (!user || (await verifySecret(password, user.passwordHash))) return false;
    await users.update({ id: userId }, { passwordHash: await hashSecret(password) });
    return true;
  }

  findByEmail(email: string, manager?: EntityManager): Promise<User | null> {
    return (manager?.getRepository(User) ?? this.users).findOneBy({
      email: email.trim().toLowerCase(),
    });
  }

  /** The user's role in the workspace, or null when they are not a member (platform admins: their row, if any). */
  async memberRole(userId: string, workspaceId: string): Promise<MemberRole | null> {
    const row = await this.members.findOne({
      where: { userId, workspaceId },
      select: { role: true, userId: true, workspaceId: true },
    });
    return row?.role ?? null;
  }

  async isMember(userId: string, workspaceId: string): Promise<boolean> {
    return this.members.existsBy({ userId, workspaceId });
  }

  /** The workspaces the user is a member of, in the order they joined them. */
  async memberWorkspaces(userId: string): Promise<Workspace[]> {
    const rows = await this.members.find({
      where: { userId },
      relations: { workspace: true },
      order: { createdAt: 'ASC' },
    });
    return rows.flatMap((m) => (m.workspace ? [m.workspace] : []));
  }

  /** The first workspace the user joined; admins without memberships get null. */
  async firstWorkspaceId(userId: string): Promise<string | null> {
    const m = await this.members.findOne({ where: { userId }, order: { createdAt: 'ASC' } });
    return m?.workspaceId ?? null;
  }
}

export { UserRole };
